"""Encryption at rest, as kube-apiserver's `--encryption-provider-config`: the chosen resources (Secrets)
are encrypted in the etcd client itself, so every path to etcd -- creates, updates, reads, the watch
caches -- sees plaintext above it and etcd sees only ciphertext. config.py reads the
EncryptionConfiguration, providers.py holds aesgcm, aescbc, secretbox and identity, transformer.py picks
the provider per key, rewrite.py re-encrypts stored objects under the current write key (rotation)."""
