"""`transitions` state machines for records with a life cycle; this package imports only models."""
