"""Documents exchanged with the kiosk: scans, forms to print, faxes."""
