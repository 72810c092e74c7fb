"""Packing a trained model and its id maps into the bytes of a ModelArtifact, and back."""

# Layout: one uncompressed .npz (np.savez, read back with allow_pickle=False) holding
#   rater_ids, book_ids       database ids of the model's rows and columns (int64)
#   rater_rating_counts       each rater's ratings plus unrated dismissals when the data was loaded
#                             (int32), so serving can tell that a reader's ratings or dismissals
#                             changed since training and fold them in
#   model.<field>             every numpy array field of factor_model.FactorModel
#   meta                      JSON (as uint8): the FactorModel's scalar fields and its TrainParams, and
#                             the item-item model's scalar fields under "item_item" (absent: none stored)
#   itemitem.<field>          every numpy array field of itemitem.ItemItemModel (the pruned weights)
# Float32 factors barely compress (zlib saves ~8% for a second of CPU), so the blob is stored raw.
# Fields are discovered from the FactorModel dataclass, so arrays the math module adds later are
# persisted without a change here.

import dataclasses
import io
import json
from dataclasses import dataclass

import numpy as np

from .factor_model import FactorModel, TrainParams
from .itemitem import ItemItemModel

FORMAT_VERSION = 1


@dataclass
class StoredModel:
    model: FactorModel
    rater_ids: np.ndarray
    book_ids: np.ndarray
    rater_rating_counts: np.ndarray
    item_item: ItemItemModel | None = None  # runs stored before the blend have none


def train_params_from(values):
    """TrainParams from a dict, ignoring keys this version of the math module does not know."""
    known = {f.name for f in dataclasses.fields(TrainParams)}
    return TrainParams(**{key: value for key, value in (values or {}).items() if key in known})


def pack(stored: StoredModel) -> bytes:
    arrays = {
        "rater_ids": np.asarray(stored.rater_ids, dtype=np.int64),
        "book_ids": np.asarray(stored.book_ids, dtype=np.int64),
        "rater_rating_counts": np.asarray(stored.rater_rating_counts, dtype=np.int32),
    }
    scalars = {}
    for field in dataclasses.fields(FactorModel):
        if field.name.startswith("_"):
            continue  # caches, recomputed on demand
        value = getattr(stored.model, field.name)
        if isinstance(value, np.ndarray):
            arrays[f"model.{field.name}"] = value
        elif isinstance(value, TrainParams):
            scalars[field.name] = {"__train_params__": dataclasses.asdict(value)}
        elif value is None or isinstance(value, (bool, int, float, str)):
            scalars[field.name] = value
        elif isinstance(value, np.generic):
            scalars[field.name] = value.item()
        else:
            raise TypeError(f"cannot store FactorModel.{field.name} of type {type(value).__name__}")
    item_item = None
    if stored.item_item is not None:
        item_item = {}
        for field in dataclasses.fields(ItemItemModel):
            value = getattr(stored.item_item, field.name)
            if field.name.startswith("_"):
                continue
            if isinstance(value, np.ndarray):
                arrays[f"itemitem.{field.name}"] = value
            else:
                item_item[field.name] = value.item() if isinstance(value, np.generic) else value
    meta = json.dumps({"format": FORMAT_VERSION, "fields": scalars, "item_item": item_item}).encode()
    arrays["meta"] = np.frombuffer(meta, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def unpack(data) -> StoredModel:
    with np.load(io.BytesIO(bytes(data)), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    if meta.get("format") != FORMAT_VERSION:
        raise ValueError(f"stored model format {meta.get('format')} is not {FORMAT_VERSION}")
    kwargs = {}
    known = {field.name for field in dataclasses.fields(FactorModel)}
    for name, value in meta["fields"].items():
        if name not in known:
            continue
        if isinstance(value, dict) and "__train_params__" in value:
            value = train_params_from(value["__train_params__"])
        kwargs[name] = value
    for name, value in arrays.items():
        if name.startswith("model.") and name[6:] in known:
            kwargs[name[6:]] = value
    item_item = None
    if meta.get("item_item") is not None:
        known = {field.name for field in dataclasses.fields(ItemItemModel)}
        fields = {name: value for name, value in meta["item_item"].items() if name in known}
        fields.update({name[9:]: value for name, value in arrays.items() if name.startswith("itemitem.") and name[9:] in known})
        item_item = ItemItemModel(**fields)
    return StoredModel(
        model=FactorModel(**kwargs),
        rater_ids=arrays["rater_ids"],
        book_ids=arrays["book_ids"],
        rater_rating_counts=arrays["rater_rating_counts"],
        item_item=item_item,
    )
