"""CRI streaming: Exec, Attach and PortForward through a one-time URL, as the CRI specifies.

The gRPC RPCs only validate (``validate.py``) and return a URL with a single-use token
(``tokens.py``) on our streaming HTTP server (``server.py``, aiohttp). The client upgrades that URL to
a WebSocket speaking Kubernetes' channel protocols (``channels.py``):

* exec/attach: ``v5.channel.k8s.io``, ``v4.channel.k8s.io`` (+ ``base64`` variants and the pre-v4
  ``channel.k8s.io``): channel 0 stdin, 1 stdout, 2 stderr, 3 status, 4 resize, 255 close (v5);
* port-forward: ``v4.channel.k8s.io`` (+ ``base64``): per port a data and an error channel, each
  opened with the port as two little-endian bytes.

Behind the socket: ``exec.py`` + ``nsenter.py`` (a helper process joining the container like the
executor's ``nsexec``, with an optional pty from the container's devpts), ``attach.py`` (follows the
CRI log file) and ``portforward.py`` (connects inside the pod's network namespace from a dedicated
thread). Follows the kubelet's ``k8s.io/kubelet/pkg/cri/streaming`` and containerd's CRI plugin in
behaviour; the code is our own.
"""
