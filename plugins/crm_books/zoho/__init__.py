"""The Zoho CRM API: endpoints, auth, retries, paging, the client and its hook."""
