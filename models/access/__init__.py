"""Who is calling and what they point at: the caller behind a bearer token (one query) and the records a
handler's access declaration names. Sits above every domain, since it reads their tables; decides nothing
(models.core.policy decides)."""
