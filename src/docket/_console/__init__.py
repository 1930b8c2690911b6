"""The operator's console on a docket: the failed tasks, the dead letters,
pausing task types, snapshots, and describing stored tasks without trusting them.

``Docket`` exposes these through its methods and its ``failed_tasks`` and
``dead_letters`` managers; the CLI and the dashboard read them from there.
"""
