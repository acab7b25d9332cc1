"""Domain events: the transactional outbox that hands committed work to the broker."""
