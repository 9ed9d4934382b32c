"""Canary judges, one module each; :mod:`critterops.rollout.judges` is the public entry point.

- :mod:`.types`: the looks a judge reads and the decision it returns.
- :mod:`.threshold`: absolute per-look limits, Argo Rollouts / Flagger style.
- :mod:`.kayenta`: Kayenta's NetflixACAJudge-v1.0 (Mann-Whitney per metric, weighted score).
- :mod:`.wilcoxon`: R's ``wilcox.test(conf.int=TRUE)`` normal approximation, which Kayenta ports.
- :mod:`.sequential`: the default, an anytime-valid test of canary vs stable error rates.
- :mod:`.evidence`: the e-processes and confidence sequences the sequential judge is built from.
"""
