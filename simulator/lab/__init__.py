"""The teaching lab: the bundled model in the browser (``crosstalk lab``).

Modules, bottom to top: :mod:`~simulator.lab.state` (the explorer's state and its URL
query, plain data), :mod:`~simulator.lab.runs` (its simulations through the public API,
the CSV, figure and Python snippet), :mod:`~simulator.lab.lessons` (one lesson per
resistance mechanism of the atlas), :mod:`~simulator.lab.app` (the Panel page) and
:mod:`~simulator.lab.server` (the local server). Only ``app`` and ``server`` import Panel,
and only when a page is served.
"""
