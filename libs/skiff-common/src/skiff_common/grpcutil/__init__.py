"""gRPC plumbing shared by every Skiff server and client (see server.py and channel.py for the design)."""

from skiff_common.grpcutil._wrapping import HandlerInterceptor, MethodInfo, outcome_code
from skiff_common.grpcutil.channel import create_channel
from skiff_common.grpcutil.credentials import TLSConfig, channel_credentials, server_credentials
from skiff_common.grpcutil.server import add_listen, create_server, serve_until_signal
from skiff_common.grpcutil.server_tracing import current_trace_id

__all__ = [
    "HandlerInterceptor",
    "MethodInfo",
    "TLSConfig",
    "add_listen",
    "channel_credentials",
    "create_channel",
    "create_server",
    "current_trace_id",
    "outcome_code",
    "serve_until_signal",
    "server_credentials",
]
