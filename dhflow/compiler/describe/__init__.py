"""What `check` and `plan` say about a search: a front door over every stage (it evaluates
resources over the space, so it sits above expand/)."""
