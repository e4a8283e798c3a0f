r"""Small real data sets bundled with scikit-learn (no download), standardised for the models.

:func:`load_dataset` returns ``(x, y, loss)``: the inputs and targets, and the
loss that fits them (``"mse"`` for regression, ``"logistic"`` for 0/1 labels,
``"cross_entropy"`` for the ten classes of the digits), the arguments of
:class:`theory.networks.MLPLandscape` for the first two (a one-output network:
it refuses the ten-class digits by their loss). Features of diabetes and
breast-cancer are standardised to mean 0 and standard deviation 1 (the
:math:`1/N` convention), and so are regression targets; the digits keep their
pixel scale, intensities :math:`0..16` divided by 16 into :math:`[0, 1]` (the
border pixels are constant, so they could not be standardised). Sources: the
diabetes data of B. Efron, T. Hastie, I. Johnstone, R. Tibshirani, "Least angle
regression", Annals of Statistics 32 (2004) 407-499; the Wisconsin diagnostic
breast-cancer data of W. N. Street, W. H. Wolberg, O. L. Mangasarian (1993);
the optical-recognition digits of E. Alpaydin and C. Kaynak (UCI, 1998), the
test part of 1,797 8x8 images; all as shipped with scikit-learn.
"""

from __future__ import annotations

import numpy as np

from .errors import DomainError

__all__ = ["DATASETS", "load_dataset"]

#: name -> the loss that fits the data set
DATASETS = {"diabetes": "mse", "breast_cancer": "logistic", "digits": "cross_entropy"}


def load_dataset(name: str = "diabetes"):
    r"""A small real data set bundled with scikit-learn (no download), standardised.

    Parameters
    ----------
    name : {"diabetes", "breast_cancer", "digits"}
        ``"diabetes"``: regression, :math:`N = 442` patients, :math:`d = 10`
        features, target the disease progression one year later; features
        and target are standardised (mean 0, standard deviation 1 with the
        :math:`1/N` convention). ``"breast_cancer"``: binary classification,
        :math:`N = 569`, :math:`d = 30`; features standardised, labels in
        :math:`\{0, 1\}`. ``"digits"``: ten-class classification,
        :math:`N = 1797` handwritten digits as 8x8 images flattened row by
        row, :math:`d = 64` pixels scaled to :math:`[0, 1]` (the 17 grey
        levels :math:`0..16` divided by 16, not standardised), labels the
        digits :math:`0..9` as integers, in scikit-learn's order.

    Returns
    -------
    x : ndarray, shape (N, d)
    y : ndarray, shape (N,)
        float64 targets, or int64 class labels for ``"digits"``.
    loss : str
        The loss that fits the data: ``"mse"``, ``"logistic"`` or
        ``"cross_entropy"`` (softmax over the ten classes).

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
    if name == "digits":
        bunch = datasets.load_digits()
        x = np.asarray(bunch.data, dtype=np.float64) / 16.0  # the 17 grey levels 0..16 onto [0, 1]
        return np.ascontiguousarray(x), np.asarray(bunch.target, dtype=np.int64), DATASETS[name]
    bunch = datasets.load_diabetes() if name == "diabetes" else datasets.load_breast_cancer()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target, dtype=np.float64)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    if DATASETS[name] == "mse":
        y = (y - y.mean()) / y.std()
    return np.ascontiguousarray(x), np.ascontiguousarray(y), DATASETS[name]
