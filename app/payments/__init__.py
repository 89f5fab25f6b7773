"""Ad hoc payments: the payments eMSP (a local party of the hub), checkout, provider events, durable jobs, driver pages, receipts."""
