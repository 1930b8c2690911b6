"""The producer: what puts tasks into a docket.

``placing.py`` holds ``add`` and ``replace`` (a ``Placer`` each), ``call`` and the
batch methods ``add_many``/``replace_many``; ``workflows.py`` what ``after=``
accepts (keys, Executions, Groups), ``Group`` (``docket.group``) and ``chain``.
"""
