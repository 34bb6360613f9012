"""The composition root: the one room that reads the whole configuration, builds every other
room from options of its own, and starts and stops what the service runs on.

* :mod:`.settings`: every setting, declared once, and the options each room takes;
* :mod:`.build`: the app (:func:`~.build.create_app`, uvicorn's factory) and the services its
  lifespan starts: the SageMaker client, the caches, the watch, readiness, and the embedded
  local endpoint when it is the backend;
* :mod:`.telemetry`: OpenTelemetry's exporter, when the ``OTEL_*`` environment asks for it;
* :mod:`.serving`: the command line's ``serve``: one process or several workers on one socket.
"""
