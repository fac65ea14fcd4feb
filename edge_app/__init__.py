"""edge-app: offline transformer text classification on small boards, served over MQTT.

The runtime imports only onnxruntime, tokenizers, numpy, paho-mqtt and the standard library.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "Bundle", "Classifier", "Prediction"]


def __getattr__(name: str):
    # Lazy, so `edge-app --help` and `import edge_app.config` do not pay for onnxruntime.
    if name == "Bundle":
        from .bundle import Bundle

        return Bundle
    if name in ("Classifier", "Prediction"):
        from . import classifier

        return getattr(classifier, name)
    raise AttributeError(name)
