"""The CRMs' own APIs, both ways: read a record a webhook only named (enrichment) and write the
contract's state back onto it (write-back). `chalicelib.crm.api` is the one entry point; one module
per CRM behind it. The official clients (HubSpot's, simple-salesforce) are imported inside the
functions that call them: the webhook path never loads them (cold start)."""
