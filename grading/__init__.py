"""Grading the exercises with Otter Grader: see ``grading/README.md`` and :mod:`grading.route`."""
