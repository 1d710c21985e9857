"""Image pulls with Kubernetes' imagePullPolicy semantics (ImageStatus first unless Always)."""

from __future__ import annotations

from skiff.api.core.v1 import container_pb2
from skiff.cri.runtime.v1 import api_pb2 as cri
from skiff_client.cri import CriClient, call
from skiff_common import errors


class ImageError(Exception):
    """Pulling failed; ``reason`` becomes the container's waiting reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def pull_policy(c: container_pb2.Container) -> str:
    if c.image_pull_policy:
        return c.image_pull_policy
    # Kubernetes' default: Always for :latest or untagged references, IfNotPresent otherwise.
    ref = c.image.rsplit("/", 1)[-1]
    if "@" in ref:
        return "IfNotPresent"
    tag = ref.partition(":")[2]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


async def ensure_image(
    client: CriClient, c: container_pb2.Container, sandbox_config: cri.PodSandboxConfig
) -> tuple[str, bool]:
    """Return (image ref for CreateContainer, whether a pull happened)."""
    policy = pull_policy(c)
    spec = cri.ImageSpec(image=c.image, user_specified_image=c.image)
    if policy != "Always":
        st = await call(client.images.ImageStatus(cri.ImageStatusRequest(image=spec)))
        if st.HasField("image") and st.image.id:
            return st.image.id, False
        if policy == "Never":
            raise ImageError(
                "ErrImageNeverPull", f'container image "{c.image}" is not present with pull policy of Never'
            )
    try:
        resp = await call(client.images.PullImage(cri.PullImageRequest(image=spec, sandbox_config=sandbox_config)))
    except errors.SkiffError as exc:
        raise ImageError("ErrImagePull", f'failed to pull image "{c.image}": {exc}') from exc
    return resp.image_ref, True
