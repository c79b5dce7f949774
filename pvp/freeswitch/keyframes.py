"""Video starts at once after the bridge, also with a SIP softphone counsellor.

After ``uuid_bridge`` each receiver needs a keyframe from the far sender: the softphone's
stream reaches the kiosk page mid-GOP (its first keyframe went to the parked leg). The
browser asks for one with an RTCP PLI, but FreeSWITCH 1.11 sends a leg's keyframe requests
(FIR/PLI) only with its periodic RTCP report, forced to 4 s apart for the leg's first four
reports (switch_rtp.c, ``rtcp_sent_packets < 4``): ~4 s of grey on the kiosk.
``uuid_video_refresh`` and the profile's RTCP intervals go through the same path, and
FreeSWITCH's own INFO fallback (``sofia_send_info_vid_refresh``) did not fire on these legs.

What works: a SIP INFO ``picture_fast_update`` (``application/media_control+xml``) sent to
both legs right after the bridge and twice more within the first second (one can be lost
while the bridge settles). baresip and the usual softphones honour it natively; the kiosk page
and the browser console restart their encoder on it (web/src/phone.js) — the kiosk page's
WebRTC connection came up at the park, so its own start-up keyframes are long past.
FreeSWITCH sends an INFO to a leg only with ``fs_send_unsupported_info`` set: the dispatcher
sets it on both legs first (a directory variable was not always on the offered leg).
"""

from __future__ import annotations

PICTURE_FAST_UPDATE = (
    '<?xml version="1.0" encoding="utf-8" ?><media_control><vc_primitive><to_encoder>'
    "<picture_fast_update/></to_encoder></vc_primitive></media_control>"
)
# Seconds after CHANNEL_BRIDGE at which the counsellor's leg is asked for a keyframe.
DELAYS = (0.0, 0.15, 0.35, 0.6)
# The channel variable without which FreeSWITCH refuses to send an INFO to a leg.
ALLOW_INFO = "fs_send_unsupported_info"


def request(leg_uuid: str) -> str:
    """The API command asking the far end of ``leg_uuid`` for a keyframe, by SIP INFO."""
    return f"uuid_send_info {leg_uuid} application media_control+xml {PICTURE_FAST_UPDATE}"
