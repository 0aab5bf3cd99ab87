"""Probing DNN activations for behaviour (dnnbrain's ``DnnProbe``).

Univariate (``"uv"``) probing scores every unit alone and keeps the best unit
per iteration and behaviour; multivariate (``"mv"``) probing uses all units of
an iteration. Iterations follow dnnbrain: the whole layer (``iter_axis=None``),
each channel (``"channel"``) or each position (``"row_col"``).

Vectorised paths (no loop over units):

- ``estimator="corr"``: Pearson r of every unit with every behaviour as one
  matrix product;
- uv ``LinearRegression``/``Ridge``: the cross-validated one-feature fits of
  all units at once from fold sums (slope ``S_xy / (S_xx + alpha)``), scored
  with R², explained variance, MSE or correlation;
- mv ``LinearRegression``/``Ridge``: one multi-output fit per fold for all
  behaviours.

Every other estimator (classifiers, pipelines, any scikit-learn estimator) is
cross-validated per unit in joblib batches. Folds are those of
:func:`sklearn.model_selection.check_cv`, as in ``cross_val_score``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from xneuro.core.backend import import_optional
from xneuro.core.errors import DimensionError, input_error

__all__ = ["ESTIMATORS", "DnnProbe"]

logger = logging.getLogger("xneuro.dnn.probe")

#: Estimator names (dnnbrain's, plus ``ridge``) and what they stand for.
ESTIMATORS = {
    "corr": "Pearson correlation of each unit (uv only)",
    "lrc": "LogisticRegression()",
    "svc": "SVC(kernel='linear', C=0.025)",
    "glm": "LinearRegression()",
    "lasso": "Lasso()",
    "ridge": "Ridge()",
}
_ITER_AXES = (None, "channel", "row_col")
_UNIT_BATCH = 4096
_DIMS = ("stimulus", "channel", "row", "column")


def _sklearn() -> Any:
    return import_optional("sklearn", extra="dnn", purpose="DnnProbe")


def _estimator(estimator: Any) -> Any:
    _sklearn()
    from sklearn import linear_model, svm
    from sklearn.base import is_classifier, is_regressor

    makers = {"lrc": linear_model.LogisticRegression, "glm": linear_model.LinearRegression,
              "lasso": linear_model.Lasso, "ridge": linear_model.Ridge,
              "svc": lambda: svm.SVC(kernel="linear", C=0.025)}
    if isinstance(estimator, str):
        if estimator == "corr":
            return "corr"
        if estimator not in makers:
            raise input_error("estimator", f"got {estimator!r}",
                              expected=f"a scikit-learn estimator or one of {list(ESTIMATORS)}")
        return makers[estimator]()
    try:
        kind_ok = is_classifier(estimator) or is_regressor(estimator)
    except (AttributeError, TypeError):
        kind_ok = False
    if not kind_ok:
        raise input_error("estimator", f"is a {type(estimator).__name__}",
                          expected="a scikit-learn classifier or regressor (or pipeline), or "
                          f"one of {list(ESTIMATORS)}", fix="pass e.g. estimator='glm'")
    return estimator


def _as_layer(value: Any, name: str) -> xr.DataArray:
    if isinstance(value, xr.Dataset):
        value = value["activation"] if "activation" in value else next(iter(value.data_vars.values()))
    if not isinstance(value, xr.DataArray):
        arr = np.asarray(value)
        if arr.ndim not in (2, 4):
            raise input_error(f"dnn_activ[{name!r}]", f"has shape {arr.shape}", cls=DimensionError,
                              expected="(n_stim, n_chn, n_row, n_col) or (n_stim, n_unit)")
        value = xr.DataArray(arr, dims=_DIMS if arr.ndim == 4 else ("stimulus", "unit"))
    if value.dims == ("stimulus", "unit") or set(value.dims) == {"stimulus", "unit"}:
        value = value.transpose("stimulus", "unit").rename(unit="channel")
        value = value.expand_dims(row=1, column=1, axis=(2, 3))
    if set(value.dims) != set(_DIMS):
        raise input_error(f"dnn_activ[{name!r}]", f"has dims {value.dims}", cls=DimensionError,
                          expected=f"{_DIMS} or ('stimulus', 'unit')",
                          fix="rename the dims of the activation")
    return value.transpose(*_DIMS)


def _layers(dnn_activ: Any) -> dict[str, xr.DataArray]:
    if isinstance(dnn_activ, xr.DataTree):
        return {node.path.strip("/") or "root": _as_layer(node.to_dataset(), node.path)
                for node in dnn_activ.subtree if node.has_data}
    if isinstance(dnn_activ, xr.DataArray | xr.Dataset):
        return {str(getattr(dnn_activ, "name", None) or "layer"): _as_layer(dnn_activ, "layer")}
    if isinstance(dnn_activ, Mapping):
        return {str(k): _as_layer(v, str(k)) for k, v in dnn_activ.items()}
    raise input_error("dnn_activ", f"is a {type(dnn_activ).__name__}",
                      expected="a DataTree of activations (one node per layer), a DataArray, or "
                      "a dict layer -> (n_stim, n_chn, n_row, n_col) array")


def _iterations(act: np.ndarray, iter_axis: str | None) -> tuple[np.ndarray, Callable]:
    """``(n, n_iter, n_unit)`` view of a layer, and ``(iter, unit) -> (chn, row, col)``."""
    n, c, r, k = act.shape
    if iter_axis is None:
        return act.reshape(n, 1, c * r * k), lambda i, u: np.unravel_index(u, (c, r, k))
    if iter_axis == "channel":
        return act.reshape(n, c, r * k), lambda i, u: (i, *np.unravel_index(u, (r, k)))
    x = act.transpose(0, 2, 3, 1).reshape(n, r * k, c)
    return x, lambda i, u: (u, *np.unravel_index(i, (r, k)))


def _pearson(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.corrcoef(y_true, y_pred)[0, 1])


def _scorer(estimator: Any, scoring: Any) -> Callable:
    from sklearn.metrics import check_scoring, make_scorer

    if scoring == "correlation":
        return make_scorer(_pearson)
    return check_scoring(estimator, scoring=scoring)


def _linear_params(estimator: Any) -> tuple[float, bool] | None:
    """``(alpha, fit_intercept)`` when the estimator is a plain (ridge) least-squares fit."""
    from sklearn.linear_model import LinearRegression, Ridge

    params = estimator.get_params()
    if type(estimator) is LinearRegression and not params["positive"]:
        return 0.0, params["fit_intercept"]
    if (type(estimator) is Ridge and np.isscalar(params["alpha"]) and not params["positive"]
            and params["solver"] in ("auto", "svd", "cholesky")):
        return float(params["alpha"]), params["fit_intercept"]
    return None


_FAST_SCORING = (None, "r2", "explained_variance", "neg_mean_squared_error", "correlation")


def _fold_index(index: np.ndarray) -> slice | np.ndarray:
    index = np.asarray(index)
    if len(index) and np.array_equal(index, np.arange(index[0], index[0] + len(index))):
        return slice(int(index[0]), int(index[0]) + len(index))  # a view, no copy
    return index


def _uv_linear(x: np.ndarray, y: np.ndarray, splits: list, alpha: float, intercept: bool,
               scoring: Any) -> np.ndarray:
    """Fold scores ``(n_column, n_beh, n_fold)`` of one-column (ridge) regressions of every column.

    Only sums are needed: column sums, sums of squares and ``X'Y`` over all
    samples and over each test fold (training sums are their differences), so
    the data are read about three times in all, whatever the number of folds.
    """
    energy = np.einsum("ij,ij->j", x, x)  # before centring: the scale of "numerically zero"
    if intercept:  # every score is invariant to shifting x and y (the intercept absorbs it)
        x, y = x - x.mean(0), y - y.mean(0)
    n = x.shape[0]
    total = (x.sum(0), np.einsum("ij,ij->j", x, x), x.T @ y, y.sum(0), (y * y).sum(0))
    out = np.empty((x.shape[1], y.shape[1], len(splits)))
    for f, (_, test) in enumerate(splits):
        te = _fold_index(test)
        xt, yt = x[te], y[te]
        nt = xt.shape[0]
        ntr = n - nt
        test_sums = (xt.sum(0), np.einsum("ij,ij->j", xt, xt), xt.T @ yt, yt.sum(0),
                     (yt * yt).sum(0))
        sx, sxx, sxy, sy = (t - u for t, u in zip(total[:4], test_sums[:4], strict=True))
        mx = sx / ntr if intercept else np.zeros_like(sx)
        my = sy / ntr if intercept else np.zeros_like(sy)
        vxx = sxx - ntr * mx**2
        cxy = sxy - ntr * mx[:, None] * my
        flat = vxx <= 1e-13 * energy  # a constant column: slope 0, as lstsq's minimum norm
        with np.errstate(invalid="ignore", divide="ignore"):
            slope = np.where(flat[:, None], 0.0, cxy / (vxx + alpha)[:, None])
        usx, usxx, usxy, usy, usyy = test_sums  # test sums, then centred on the training means
        tx, ty = usx - nt * mx, usy - nt * my
        txx = usxx - 2 * mx * usx + nt * mx**2
        txy = usxy - mx[:, None] * usy - my * usx[:, None] + nt * mx[:, None] * my
        tyy = usyy - 2 * my * usy + nt * my**2
        ss_res = tyy - 2 * slope * txy + slope**2 * txx[:, None]
        ss_tot = np.broadcast_to(tyy - ty**2 / nt, ss_res.shape)
        with np.errstate(invalid="ignore", divide="ignore"):
            if scoring in (None, "r2"):
                s = 1 - ss_res / ss_tot
            elif scoring == "explained_variance":
                mean_res = (ty - slope * tx[:, None]) / nt
                s = 1 - (ss_res / nt - mean_res**2) / (ss_tot / nt)
            elif scoring == "neg_mean_squared_error":
                s = -ss_res / nt
            else:
                vx = txx - tx**2 / nt
                s = np.sign(slope) * (txy - tx[:, None] * ty / nt) / np.sqrt(vx[:, None] * ss_tot)
        if scoring in (None, "r2", "explained_variance"):  # scikit-learn's force_finite
            s = np.where(ss_tot > 0, s, np.where(ss_res <= 1e-12 * (1 + tyy), 1.0, 0.0))
        out[:, :, f] = s
    return out


def _cv_scores(estimator: Any, scorer: Callable, x: np.ndarray, y: np.ndarray,
               splits: list) -> np.ndarray:
    from sklearn.base import clone

    return np.array([scorer(clone(estimator).fit(x[tr], y[tr]), x[te], y[te]) for tr, te in splits])


def _uv_generic(estimator: Any, scorer: Callable, x: np.ndarray, y: np.ndarray, splits: list,
                n_jobs: int | None) -> np.ndarray:
    from joblib import Parallel, delayed

    def batch(cols: range) -> np.ndarray:  # one task: all folds of a batch of units
        return np.array([[_cv_scores(estimator, scorer, x[:, [u]], y[:, b], splits)
                          for b in range(y.shape[1])] for u in cols])

    size = max(1, min(64, x.shape[1] // 8 or 1))
    parts = Parallel(n_jobs=n_jobs)(delayed(batch)(range(s, min(s + size, x.shape[1])))
                                    for s in range(0, x.shape[1], size))
    return np.concatenate(parts, axis=0)


def _confusions(estimator: Any, x: np.ndarray, y: np.ndarray, splits: list) -> np.ndarray:
    from sklearn.base import clone
    from sklearn.metrics import confusion_matrix

    labels = np.unique(y)
    out = np.empty(len(splits), dtype=object)
    for f, (tr, te) in enumerate(splits):
        out[f] = confusion_matrix(y[te], clone(estimator).fit(x[tr], y[tr]).predict(x[te]),
                                  labels=labels)
    return out


class DnnProbe:
    """Decode behaviour from DNN activations: how well do units predict it?

    Parameters
    ----------
    dnn_activ : DataTree, DataArray or dict, optional
        Activations: a DataTree with one node per layer (variable
        ``activation``, dims ``(stimulus, channel, row, column)`` or
        ``(stimulus, unit)``), one such DataArray, or dnnbrain's dict of layer
        name to ``(n_stim, n_chn, n_row, n_col)`` arrays.
    map_type : {"uv", "mv"}, optional
        Univariate (each unit alone, best unit kept) or multivariate.
    estimator : str or scikit-learn estimator, optional
        ``"corr"`` (uv only), a name of :data:`ESTIMATORS`, or any
        scikit-learn classifier, regressor or pipeline.
    cv : int or cross-validation splitter, default 5
        Folds, as in :func:`sklearn.model_selection.cross_val_score`.
    scoring : str or callable, optional
        A scikit-learn scorer name or ``scorer(estimator, X, y)``, or
        ``"correlation"`` (Pearson r of prediction and truth); ``None`` uses
        the estimator's own ``score`` (R² or accuracy).
    n_jobs : int, optional
        joblib workers for the estimators without a vectorised path.
    """

    def __init__(self, dnn_activ: Any = None, map_type: str | None = None, estimator: Any = None,
                 cv: Any = 5, scoring: Any = None, n_jobs: int | None = None) -> None:
        self.layers: dict[str, xr.DataArray] = {}
        self.map_type = self.estimator = self.scoring = None
        self.cv: Any = cv
        self.n_jobs = n_jobs
        if dnn_activ is not None:
            self.set_activ(dnn_activ)
        if map_type is not None or estimator is not None:
            self.set_mapper(map_type, estimator, cv, scoring)

    def set_activ(self, dnn_activ: Any) -> None:
        """Set the activations (see the class parameters)."""
        self.layers = _layers(dnn_activ)

    def set_mapper(self, map_type: str, estimator: Any, cv: Any = 5, scoring: Any = None) -> None:
        """Set the mapping: ``map_type``, ``estimator``, ``cv`` and ``scoring``."""
        if map_type not in ("uv", "mv"):
            raise input_error("map_type", f"got {map_type!r}", expected="'uv' or 'mv'")
        est = _estimator(estimator)
        if est == "corr" and map_type == "mv":
            raise input_error("estimator", "'corr' is univariate", expected="map_type='uv'",
                              fix="use map_type='uv', or a regressor such as 'glm' for 'mv'")
        if not (hasattr(cv, "split") or (isinstance(cv, int | np.integer) and cv >= 2)):
            raise input_error("cv", f"got {cv!r}", expected="an int >= 2 or a CV splitter")
        self.map_type, self.estimator, self.cv, self.scoring = map_type, est, cv, scoring

    def _behaviour(self, beh_data: Any, n_stim: int) -> np.ndarray:
        y = beh_data.values if hasattr(beh_data, "values") else np.asarray(beh_data)
        y = np.asarray(y)
        y = y[:, None] if y.ndim == 1 else y
        if y.ndim != 2 or y.shape[0] != n_stim:
            raise input_error(
                "beh_data", f"has shape {np.shape(y)}", cls=DimensionError,
                expected=f"(n_stim, n_beh) with n_stim = {n_stim}, the stimuli of the activation",
                fix="pass one row per stimulus, in the activation's stimulus order",
            )
        if _is_classifier(self.estimator):
            from sklearn.utils.multiclass import type_of_target

            for b in range(y.shape[1]):
                kind = type_of_target(y[:, b])
                if kind not in ("binary", "multiclass"):
                    raise input_error(
                        f"beh_data[:, {b}]", f"is {kind} for the classifier "
                        f"{type(self.estimator).__name__}",
                        expected="class labels (binary or multiclass)",
                        fix="use a regressor (e.g. estimator='glm'), or bin the behaviour "
                        "into classes first",
                    )
        elif not np.issubdtype(y.dtype, np.number) or not np.isfinite(y).all():
            raise input_error("beh_data", "holds non-numeric or non-finite values",
                              expected="finite numbers", fix="drop or impute the missing values")
        return y if _is_classifier(self.estimator) else y.astype(np.float64)

    def probe(self, beh_data: Any, iter_axis: str | None = None) -> dict[str, dict[str, Any]]:
        """Probe how well the activations predict the behaviour.

        Parameters
        ----------
        beh_data : array-like, shape (n_stim, n_beh) or (n_stim,)
            Behaviour per stimulus (class labels for classifiers).
        iter_axis : {None, "channel", "row_col"}
            Iterate over the whole layer, each channel or each position.

        Returns
        -------
        dict
            Layer name to a dict, as dnnbrain's: ``score`` (uv corr:
            ``(n_iter, n_beh)``; otherwise ``(n_iter, n_beh, n_fold)``),
            ``location`` (uv: ``(n_iter, n_beh, 3)``, the 1-based channel,
            row and column of the best unit), ``model`` (``(n_iter, n_beh)``
            estimators refit on all stimuli; not for corr) and ``conf_m``
            (classifiers: ``(n_iter, n_beh, n_fold)`` confusion matrices).

        Raises
        ------
        InputError
            If the mapper or activations are not set, ``beh_data`` has another
            number of stimuli, or a classifier gets continuous targets.
        """
        if self.map_type is None or not self.layers:
            raise input_error("DnnProbe", "has no " + ("mapper" if self.layers else "activation"),
                              fix="call set_activ(...) and set_mapper(...) first")
        if iter_axis not in _ITER_AXES:
            raise input_error("iter_axis", f"got {iter_axis!r}", expected=f"one of {_ITER_AXES}")
        n_stim = {name: a.sizes["stimulus"] for name, a in self.layers.items()}
        if len(set(n_stim.values())) > 1:
            raise input_error("dnn_activ", f"has layers of different stimulus counts {n_stim}",
                              expected="every layer on the same stimuli")
        y = self._behaviour(beh_data, next(iter(n_stim.values())))
        return {name: self._probe_layer(act, y, iter_axis) for name, act in self.layers.items()}

    def _splits(self, y: np.ndarray) -> list:
        from sklearn.model_selection import check_cv

        clf = _is_classifier(self.estimator)
        cv = check_cv(self.cv, y, classifier=clf)
        return list(cv.split(np.zeros((len(y), 1)), y))

    def _probe_layer(self, act: xr.DataArray, y: np.ndarray, iter_axis: str | None) -> dict:
        x, location = _iterations(np.asarray(act.values, dtype=np.float64), iter_axis)
        if self.estimator == "corr":
            return _uv_corr(x, y, location)
        clf = _is_classifier(self.estimator)
        splits = [self._splits(y[:, b]) for b in range(y.shape[1])]
        if self.map_type == "mv":
            return self._mv(x, y, splits, clf)
        n, n_iter_, n_unit = x.shape  # every unit of every iteration is one column
        scores = self._uv_scores(x.reshape(n, -1), y, splits).reshape(n_iter_, n_unit,
                                                                        *y.shape[1:], -1)
        mean = np.where(np.isnan(scores), -np.inf, scores).mean(-1)  # (iter, unit, beh)
        best = mean.argmax(1)  # (iter, beh)
        n_iter, n_beh = best.shape
        out = {"score": np.take_along_axis(scores, best[:, None, :, None], 1)[:, 0],
               "location": np.zeros((n_iter, n_beh, 3), dtype=int),
               "model": np.empty((n_iter, n_beh), dtype=object)}
        if clf:
            out["conf_m"] = np.empty((n_iter, n_beh, len(splits[0])), dtype=object)
        from sklearn.base import clone

        for i in range(n_iter):
            for b in range(n_beh):
                u = best[i, b]
                out["location"][i, b] = np.asarray(location(i, u)) + 1
                column = x[:, i, [u]]
                out["model"][i, b] = clone(self.estimator).fit(column, y[:, b])
                if clf:
                    out["conf_m"][i, b] = _confusions(self.estimator, column, y[:, b], splits[b])
        return out

    def _uv_scores(self, x: np.ndarray, y: np.ndarray, splits: list) -> np.ndarray:
        """Fold scores ``(n_column, n_beh, n_fold)`` of one-unit models of every column."""
        linear = _linear_params(self.estimator) if not _is_classifier(self.estimator) else None
        same = all(_same_splits(s, splits[0]) for s in splits)
        if linear is not None and self.scoring in _FAST_SCORING and same:
            return np.concatenate([_uv_linear(x[:, s:s + _UNIT_BATCH], y, splits[0], *linear,
                                              self.scoring)
                                   for s in range(0, x.shape[1], _UNIT_BATCH)])
        scorer = _scorer(self.estimator, self.scoring)
        return np.concatenate([_uv_generic(self.estimator, scorer, x, y[:, [b]], splits[b],
                                           self.n_jobs) for b in range(y.shape[1])], axis=1)

    def _mv(self, x: np.ndarray, y: np.ndarray, splits: list, clf: bool) -> dict:
        from joblib import Parallel, delayed
        from sklearn.base import clone

        n_iter, n_beh, n_fold = x.shape[1], y.shape[1], len(splits[0])
        scorer = _scorer(self.estimator, self.scoring)

        def one(i: int, b: int) -> tuple:
            xi = x[:, i]
            scores = _cv_scores(self.estimator, scorer, xi, y[:, b], splits[b])
            model = clone(self.estimator).fit(xi, y[:, b])
            conf = _confusions(self.estimator, xi, y[:, b], splits[b]) if clf else None
            return scores, model, conf

        linear = _linear_params(self.estimator) if not clf else None
        if linear is not None and self.scoring in _FAST_SCORING and all(
                _same_splits(s, splits[0]) for s in splits):
            out = {"score": np.stack([_mv_multioutput(self.estimator, x[:, i], y, splits[0],
                                                      self.scoring) for i in range(n_iter)]),
                   "model": np.empty((n_iter, n_beh), dtype=object)}
            for i in range(n_iter):
                for b in range(n_beh):
                    out["model"][i, b] = clone(self.estimator).fit(x[:, i], y[:, b])
            return out
        jobs = [(i, b) for i in range(n_iter) for b in range(n_beh)]
        results = Parallel(n_jobs=self.n_jobs)(delayed(one)(i, b) for i, b in jobs)
        out = {"score": np.empty((n_iter, n_beh, n_fold)),
               "model": np.empty((n_iter, n_beh), dtype=object)}
        if clf:
            out["conf_m"] = np.empty((n_iter, n_beh, n_fold), dtype=object)
        for (i, b), (scores, model, conf) in zip(jobs, results, strict=True):
            out["score"][i, b], out["model"][i, b] = scores, model
            if clf:
                out["conf_m"][i, b] = conf
        return out


def _mv_multioutput(estimator: Any, x: np.ndarray, y: np.ndarray, splits: list,
                    scoring: Any) -> np.ndarray:
    """Fold scores ``(n_beh, n_fold)``: one multi-output least-squares fit per fold."""
    from sklearn import metrics
    from sklearn.base import clone

    out = np.empty((y.shape[1], len(splits)))
    for f, (train, test) in enumerate(splits):
        pred = clone(estimator).fit(x[train], y[train]).predict(x[test]).reshape(len(test), -1)
        truth = y[test]
        if scoring in (None, "r2"):
            out[:, f] = metrics.r2_score(truth, pred, multioutput="raw_values")
        elif scoring == "explained_variance":
            out[:, f] = metrics.explained_variance_score(truth, pred, multioutput="raw_values")
        elif scoring == "neg_mean_squared_error":
            out[:, f] = -metrics.mean_squared_error(truth, pred, multioutput="raw_values")
        else:
            out[:, f] = [_pearson(truth[:, b], pred[:, b]) for b in range(y.shape[1])]
    return out


def _same_splits(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(p[1], q[1]) for p, q in zip(a, b, strict=True))


def _is_classifier(estimator: Any) -> bool:
    from sklearn.base import is_classifier

    return not isinstance(estimator, str) and is_classifier(estimator)


def _uv_corr(x: np.ndarray, y: np.ndarray, location: Callable) -> dict:
    """Best signed Pearson r over units, per iteration and behaviour, as matrix products."""
    yc = y - y.mean(0)
    ynorm = np.sqrt((yc * yc).sum(0))
    n_iter, n_unit = x.shape[1], x.shape[2]
    best_r = np.full((n_iter, y.shape[1]), -np.inf)
    best_u = np.zeros((n_iter, y.shape[1]), dtype=int)
    for s in range(0, n_unit, _UNIT_BATCH):  # bounded memory over units
        xc = x[:, :, s:s + _UNIT_BATCH] - x[:, :, s:s + _UNIT_BATCH].mean(0)
        xnorm = np.sqrt((xc * xc).sum(0))  # (iter, unit)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.einsum("niu,nb->iub", xc, yc) / (xnorm[:, :, None] * ynorm)
        r = np.where(np.isfinite(r), r, -np.inf)
        arg = r.argmax(1)
        value = np.take_along_axis(r, arg[:, None, :], 1)[:, 0]
        better = value > best_r
        best_r, best_u = np.where(better, value, best_r), np.where(better, arg + s, best_u)
    if np.isinf(best_r).any():
        logger.warning("some iterations have only constant units: their score is NaN")
    location_arr = np.zeros((*best_u.shape, 3), dtype=int)
    for i in range(n_iter):
        for b in range(y.shape[1]):
            location_arr[i, b] = np.asarray(location(i, best_u[i, b])) + 1
    return {"score": np.where(np.isinf(best_r), np.nan, best_r), "location": location_arr}
