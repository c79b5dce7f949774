"""The kiosk agent: SIP video engine, buttons, handset, printer, scanner, screen, health."""
