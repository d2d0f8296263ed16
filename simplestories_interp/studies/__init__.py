"""The studies behind ``ssi reproduce NAME``: each measures into ``results.json`` and renders
``summary.txt`` and ``index.html`` from it (:mod:`.run` holds the one skeleton and the table of studies)."""
