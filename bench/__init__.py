"""sdcli's benchmark suite: every figure is a ratio against a baseline measured side by side in the same run.

Run ``python -m bench`` (``--help`` for the subsets). Each benchmark starts its own local stack on an ephemeral
127.0.0.1 port with a private state folder, interleaves our runs with the baseline's so that machine noise hits
both, reports medians (warm-up excluded), and stops its stack. Nothing here fails on a timing: goals are
reported as met or not met.
"""
