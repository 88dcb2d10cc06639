"""`irkit watch`: polling passes over the CloudTrail archive, state on disk, paging, contain on policy.

A pass (:func:`irkit.watch.run.run_pass`) lists what was delivered since the last pass
(:mod:`irkit.watch.source`), re-analyses it with the window of recent events kept in the state folder
(:mod:`irkit.watch.state`), checks that the telemetry still flows (:mod:`irkit.watch.telemetry`),
contains on policy (:mod:`irkit.watch.respond`) and pages each new finding once (:mod:`irkit.watch.page`).
"""
