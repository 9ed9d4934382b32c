"""The lab: stand-ins for what KWOK pods cannot run (their telemetry), shared by the lab tests and
``critterops demo --backend kubernetes``. Everything here talks to the lab of ``scripts/lab.py`` on loopback."""
