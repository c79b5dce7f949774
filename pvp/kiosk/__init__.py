"""The kiosk agent: the SIP video engine (baresip) and, later, the kiosk's other devices."""
