r"""Small real data sets bundled with scikit-learn (no download), standardised for the models.

:func:`load_dataset` returns ``(x, y, loss)``: the inputs and targets, and the
loss that fits them (``"mse"`` for regression, ``"logistic"`` for 0/1 labels),
the arguments of :class:`theory.networks.MLPLandscape`. Features are
standardised to mean 0 and standard deviation 1 (the :math:`1/N`
convention), and so are regression targets. Sources: the diabetes data of
B. Efron, T. Hastie, I. Johnstone, R. Tibshirani, "Least angle regression",
Annals of Statistics 32 (2004) 407-499; the Wisconsin diagnostic breast-cancer
data of W. N. Street, W. H. Wolberg, O. L. Mangasarian (1993), both as shipped
with scikit-learn.
"""

from __future__ import annotations

import numpy as np

from .errors import DomainError

__all__ = ["DATASETS", "load_dataset"]

#: name -> the loss that fits the data set
DATASETS = {"diabetes": "mse", "breast_cancer": "logistic"}


def load_dataset(name: str = "diabetes"):
    r"""A small real data set bundled with scikit-learn (no download), standardised.

    Parameters
    ----------
    name : {"diabetes", "breast_cancer"}
        ``"diabetes"``: regression, :math:`N = 442` patients, :math:`d = 10`
        features, target the disease progression one year later; features
        and target are standardised (mean 0, standard deviation 1 with the
        :math:`1/N` convention). ``"breast_cancer"``: binary classification,
        :math:`N = 569`, :math:`d = 30`; features standardised, labels in
        :math:`\{0, 1\}`.

    Returns
    -------
    x : ndarray, shape (N, d)
    y : ndarray, shape (N,)
    loss : str
        The loss that fits the data: ``"mse"`` or ``"logistic"``.

    Raises
    ------
    ImportError
        When scikit-learn is not installed (``pip install 'theory[data]'``).
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a data set name, one of the datasets {sorted(DATASETS)}; "
                        f"got {type(name).__name__}")
    if name not in DATASETS:
        raise DomainError(f"name must be one of the bundled datasets {sorted(DATASETS)}; got {name!r}")
    try:
        from sklearn import datasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("the bundled data sets come with scikit-learn: pip install 'theory[data]'") from exc
    bunch = datasets.load_diabetes() if name == "diabetes" else datasets.load_breast_cancer()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    if DATASETS[name] == "mse":
        y = (y - y.mean()) / y.std()
    return np.ascontiguousarray(x), np.ascontiguousarray(y), DATASETS[name]
