"""Garbage collector: ownerReferences across every kind the apiserver serves."""
