"""Slots: the values inside a command (temperature, duration, volume, room, device, mode).

`schema` says which slots exist and which intent may carry which; the decoding of the model's
token tags into spans and the value parsers live beside it.
"""
