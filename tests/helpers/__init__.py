"""What the tests share, imported as `helpers.<module>` (tests/ is on sys.path: pyproject's
`pythonpath`, and tests/conftest.py's folder in pytest's default import mode).

mqtt: mosquitto, `edge-app serve` and the MQTT pytest fixtures; client_programs: Home Assistant and
Node-RED (installed by tests/clients/install.sh); clusters: RabbitMQ and ejabberd clusters;
bundle_server: an HTTPS bundle server and its certificates; checkpoints: a tiny BERT classifier to
export; fakes: a stand-in model; fault_serve: `edge-app serve` with planted faults, run as a script
(python tests/helpers/fault_serve.py serve ...). Running it puts this folder first on sys.path, so
no module here may take a standard library or installed package's name (an http.py here broke
`http.server`)."""
