"""Fitting: the one fit routine (``fit_member``: preprocess -> balance -> learner under a deadline) and what is
built on it: model selection among candidates, cross-validation and multiple-imputation members."""

from trainwright.fitting.cv import cross_validate, make_folds
from trainwright.fitting.imputation import fit_imputation_members
from trainwright.fitting.member import Balancing, Member, MemberSpec, Training, fit_member, prepare_training
from trainwright.fitting.select import Candidate, Selection, fit_candidates

__all__ = [
    "Balancing",
    "Candidate",
    "Member",
    "MemberSpec",
    "Selection",
    "Training",
    "cross_validate",
    "fit_candidates",
    "fit_imputation_members",
    "fit_member",
    "make_folds",
    "prepare_training",
]
