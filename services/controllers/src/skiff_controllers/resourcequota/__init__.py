"""The resourcequota controller: keeps every ResourceQuota's status (hard copied from spec, used recomputed
from what the namespace holds), as kube-controller-manager's resourcequota controller does. The usage rules
are skiff_common.quota's, the ones ResourceQuota admission charges by."""
