"""Everything MQTT: topic names, payloads, the durable outbox, the connection and the service.

It calls the `Classifier`; it never runs the model itself.
"""
