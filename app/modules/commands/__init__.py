"""Commands (mod_commands): the router and the relay path every eMSP, the hub's own included, sends by."""
