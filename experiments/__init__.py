"""The studies behind the resistance atlas: one script per study, public API only.

Each defines ``main(out_dir, quick)``; run one as ``python experiments/<name>.py``. Installed,
this folder is the package ``simulator.experiments`` (see pyproject.toml).
"""
