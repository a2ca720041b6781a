"""The channel types and their settings, for clients that draw channel forms (the web UI)."""

from __future__ import annotations

from fastapi import APIRouter

from herald.api.deps import PrincipalDep
from herald.api.schemas.channel_type_schemas import ChannelTypeOut, ChannelTypesOut
from herald.api.schemas.common_schemas import ERRORS
from herald.channels.type_info import channel_types_info

router = APIRouter(tags=["callbacks"], responses=ERRORS)


@router.get(
    "/channel-types",
    summary="Channel types: settings schema, zh/en labels and capabilities of each",
)
def list_channel_types(_: PrincipalDep) -> ChannelTypesOut:
    """Any valid token may read this: it holds no project data."""
    items = [ChannelTypeOut.model_validate(info) for info in channel_types_info()]
    return ChannelTypesOut(items=items)
