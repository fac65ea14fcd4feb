"""Home Assistant Assist through a Wyoming intent service (the `assist` extra: wyoming, zeroconf).

- intents.py: our labels and slots as Home Assistant intents, rooms as areas, the reply texts.
- wyoming_service.py: the Wyoming server, asking the classify pipeline for each transcript.
- advertise.py: the zeroconf `_wyoming._tcp` advertisement.
"""
