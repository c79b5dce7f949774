"""PVP's own expert-queue dispatcher: a pure policy, its persistence, and the ESL worker."""
