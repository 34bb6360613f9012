"""The demo catalog an empty store starts with.

It reads like a real account's custom images (notebook kernels, training and inference images for
PyTorch, TensorFlow and scikit-learn) and, between them, holds every value of every enum the
describe call returns, a FailureReason on each failed version, and aliases, so a person exploring
the API in GraphiQL meets each case at least once. Every value passes the model's input checks,
as AWS would have refused to create one that does not (``MLFramework`` is ``<letters> <x.y>``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from app.local_sagemaker.store import ImageStore

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerImageRole"
REGISTRY = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
# The demo's second account, whose key the endpoint's default options name.
SECOND_ACCOUNT = "210987654321"

# (image, versions) pairs; versions use DescribeImageVersion's member names plus Aliases.
Catalog = list[tuple[dict[str, Any], list[dict[str, Any]]]]


def _epoch(day: str) -> float:
    return datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()


def _digest(repository: str, tag: str) -> str:
    return hashlib.sha256(f"{repository}:{tag}".encode()).hexdigest()


def _version(
    number: int,
    day: str,
    repository: str,
    tag: str,
    stack: dict[str, str],
    *,
    registry: str = REGISTRY,
    **fields: Any,
) -> dict[str, Any]:
    """One version; ``stack`` holds the framework and language, which ``fields`` may override."""
    fields = {"ImageVersionStatus": "CREATED", **stack, **fields}
    return {
        "Version": number,
        "BaseImage": f"{registry}/{repository}:{tag}",
        "ContainerImage": f"{registry}/{repository}@sha256:{_digest(repository, tag)}",
        "CreationTime": _epoch(day),
        "LastModifiedTime": _epoch(day) + 3600,
        **fields,
    }


def _image(name: str, display: str, description: str, day: str, **fields: Any) -> dict[str, Any]:
    return {
        "ImageName": name,
        "DisplayName": display,
        "Description": description,
        "RoleArn": ROLE_ARN,
        "ImageStatus": fields.pop("ImageStatus", "CREATED"),
        "CreationTime": _epoch(day),
        "LastModifiedTime": _epoch(day) + 60,
        **fields,
    }


def demo_catalog() -> Catalog:
    """The home catalog: the home region of the default account."""
    pytorch = {"MLFramework": "PyTorch 2.3", "ProgrammingLang": "Python 3.11"}
    tensorflow = {"MLFramework": "TensorFlow 2.15", "ProgrammingLang": "Python 3.10"}
    sklearn = {"MLFramework": "sklearn 1.5", "ProgrammingLang": "Python 3.11"}
    return [
        (
            _image(
                "pytorch-training",
                "PyTorch training",
                "GPU training image with PyTorch, CUDA and Horovod for distributed jobs.",
                "2024-03-01",
            ),
            [
                _version(
                    1,
                    "2024-03-01",
                    "pytorch-training",
                    "2.1-gpu",
                    pytorch,
                    MLFramework="PyTorch 2.1",
                    JobType="TRAINING",
                    Processor="GPU",
                    Horovod=True,
                    VendorGuidance="ARCHIVED",
                    ReleaseNotes="First release: PyTorch 2.1, CUDA 12.1.",
                ),
                _version(
                    2,
                    "2024-06-12",
                    "pytorch-training",
                    "2.2-gpu",
                    pytorch,
                    MLFramework="PyTorch 2.2",
                    JobType="TRAINING",
                    Processor="GPU",
                    Horovod=True,
                    VendorGuidance="TO_BE_ARCHIVED",
                    ReleaseNotes="PyTorch 2.2; NCCL 2.19.",
                    Aliases=["previous"],
                ),
                _version(
                    3,
                    "2024-10-02",
                    "pytorch-training",
                    "2.3-gpu",
                    pytorch,
                    JobType="TRAINING",
                    Processor="GPU",
                    Horovod=True,
                    VendorGuidance="STABLE",
                    ReleaseNotes="PyTorch 2.3; CUDA 12.4.",
                    Aliases=["stable", "2.3"],
                ),
                _version(
                    4,
                    "2025-01-20",
                    "pytorch-training",
                    "2.4-gpu-rc1",
                    pytorch,
                    MLFramework="PyTorch 2.4",
                    ProgrammingLang="Python 3.11",
                    JobType="TRAINING",
                    Processor="GPU",
                    Horovod=True,
                    VendorGuidance="NOT_PROVIDED",
                    ImageVersionStatus="CREATE_FAILED",
                    FailureReason="Image pull failed: manifest for tag 2.4-gpu-rc1 not found",
                ),
                _version(
                    5,
                    "2025-02-03",
                    "pytorch-training",
                    "2.4-gpu",
                    pytorch,
                    MLFramework="PyTorch 2.4",
                    ProgrammingLang="Python 3.11",
                    JobType="TRAINING",
                    Processor="GPU",
                    Horovod=True,
                    ImageVersionStatus="CREATING",
                    Aliases=["next"],
                ),
            ],
        ),
        (
            _image(
                "pytorch-inference",
                "PyTorch inference",
                "CPU inference image for TorchServe endpoints.",
                "2024-04-15",
            ),
            [
                _version(
                    1,
                    "2024-04-15",
                    "pytorch-inference",
                    "2.2-cpu",
                    pytorch,
                    MLFramework="PyTorch 2.2",
                    JobType="INFERENCE",
                    Processor="CPU",
                    Horovod=False,
                    VendorGuidance="STABLE",
                ),
                _version(
                    2,
                    "2024-11-05",
                    "pytorch-inference",
                    "2.3-cpu",
                    pytorch,
                    JobType="INFERENCE",
                    Processor="CPU",
                    Horovod=False,
                    VendorGuidance="STABLE",
                    ReleaseNotes="TorchServe 0.11.",
                    Aliases=["stable"],
                ),
            ],
        ),
        (
            _image(
                "tensorflow-notebook",
                "TensorFlow notebook kernel",
                "Studio notebook kernel with TensorFlow and Keras.",
                "2024-02-10",
            ),
            [
                _version(
                    1,
                    "2024-02-10",
                    "tensorflow-notebook",
                    "2.14",
                    tensorflow,
                    MLFramework="TensorFlow 2.14",
                    JobType="NOTEBOOK_KERNEL",
                    Processor="CPU",
                    VendorGuidance="ARCHIVED",
                    ImageVersionStatus="DELETE_FAILED",
                    FailureReason="Delete failed: the version is in use by a running app",
                ),
                _version(
                    2,
                    "2024-07-22",
                    "tensorflow-notebook",
                    "2.15",
                    tensorflow,
                    JobType="NOTEBOOK_KERNEL",
                    Processor="CPU",
                    VendorGuidance="STABLE",
                    ReleaseNotes="TensorFlow 2.15 with Keras 3.",
                    Aliases=["stable"],
                ),
                _version(
                    3,
                    "2024-09-30",
                    "tensorflow-notebook",
                    "2.15-gpu",
                    tensorflow,
                    JobType="NOTEBOOK_KERNEL",
                    Processor="GPU",
                    VendorGuidance="NOT_PROVIDED",
                    ImageVersionStatus="DELETING",
                ),
            ],
        ),
        (
            _image(
                "sklearn-kernel",
                "scikit-learn kernel",
                "Light notebook kernel for classical ML.",
                "2024-05-05",
            ),
            [
                _version(
                    1,
                    "2024-05-05",
                    "sklearn-kernel",
                    "1.4",
                    sklearn,
                    MLFramework="sklearn 1.4",
                    JobType="NOTEBOOK_KERNEL",
                    Processor="CPU",
                    VendorGuidance="TO_BE_ARCHIVED",
                ),
                _version(
                    2,
                    "2024-12-01",
                    "sklearn-kernel",
                    "1.5",
                    sklearn,
                    JobType="NOTEBOOK_KERNEL",
                    Processor="CPU",
                    VendorGuidance="STABLE",
                    ReleaseNotes="scikit-learn 1.5, pandas 2.2.",
                    Aliases=["stable", "latest-kernel"],
                ),
            ],
        ),
        (
            _image(
                "r-analytics",
                "R analytics",
                "R kernel that failed to build its role binding.",
                "2025-03-03",
                ImageStatus="CREATE_FAILED",
                FailureReason="Role arn:aws:iam::123456789012:role/SageMakerImageRole is not "
                "assumable by SageMaker",
            ),
            [],
        ),
    ]


def regional_demo_catalog(region: str) -> Catalog:
    """A few images in another region of the default account. One shares its name with a home
    image, as teams copy images across regions: only the ARN tells them apart."""
    registry = f"123456789012.dkr.ecr.{region}.amazonaws.com"
    pytorch = {"MLFramework": "PyTorch 2.3", "ProgrammingLang": "Python 3.11"}
    xgboost = {"MLFramework": "XGBoost 1.7", "ProgrammingLang": "Python 3.10"}
    return [
        (
            _image(
                "pytorch-training",
                "PyTorch training",
                f"The {region} copy of the GPU training image, for data that stays in {region}.",
                "2024-10-10",
            ),
            [
                _version(
                    1,
                    "2024-10-10",
                    "pytorch-training",
                    "2.3-gpu",
                    pytorch,
                    registry=registry,
                    JobType="TRAINING",
                    Processor="GPU",
                    Horovod=True,
                    VendorGuidance="STABLE",
                    Aliases=["stable"],
                ),
            ],
        ),
        (
            _image(
                "xgboost-training",
                "XGBoost training",
                f"CPU training image for gradient-boosted trees, built in {region} only.",
                "2024-08-19",
            ),
            [
                _version(
                    1,
                    "2024-08-19",
                    "xgboost-training",
                    "1.7-cpu",
                    xgboost,
                    registry=registry,
                    JobType="TRAINING",
                    Processor="CPU",
                    VendorGuidance="TO_BE_ARCHIVED",
                ),
                _version(
                    2,
                    "2025-01-08",
                    "xgboost-training",
                    "2.0-cpu",
                    xgboost,
                    registry=registry,
                    MLFramework="XGBoost 2.0",
                    JobType="TRAINING",
                    Processor="CPU",
                    VendorGuidance="STABLE",
                    ReleaseNotes="XGBoost 2.0 with the new hist tree method.",
                    Aliases=["stable"],
                ),
            ],
        ),
    ]


def second_account_demo_catalog(region: str) -> Catalog:
    """A few images of :data:`SECOND_ACCOUNT`, another team's account, reached with its key or
    by assuming one of its roles."""
    registry = f"{SECOND_ACCOUNT}.dkr.ecr.{region}.amazonaws.com"
    role = {"RoleArn": f"arn:aws:iam::{SECOND_ACCOUNT}:role/SageMakerImageRole"}
    tensorflow = {"MLFramework": "TensorFlow 2.16", "ProgrammingLang": "Python 3.11"}
    return [
        (
            _image(
                "tensorflow-inference",
                "TensorFlow inference",
                "The forecasting team's serving image.",
                "2024-09-02",
                **role,
            ),
            [
                _version(
                    1,
                    "2024-09-02",
                    "tensorflow-inference",
                    "2.15-cpu",
                    tensorflow,
                    registry=registry,
                    MLFramework="TensorFlow 2.15",
                    JobType="INFERENCE",
                    Processor="CPU",
                    VendorGuidance="ARCHIVED",
                ),
                _version(
                    2,
                    "2025-02-14",
                    "tensorflow-inference",
                    "2.16-gpu",
                    tensorflow,
                    registry=registry,
                    JobType="INFERENCE",
                    Processor="GPU",
                    VendorGuidance="STABLE",
                    ReleaseNotes="TensorFlow 2.16 with TF Serving 2.16.",
                    Aliases=["stable"],
                ),
            ],
        ),
        (
            _image(
                "forecasting-notebook",
                "Forecasting notebook kernel",
                "Notebook kernel the forecasting team explores data with.",
                "2025-01-27",
                **role,
            ),
            [
                _version(
                    1,
                    "2025-01-27",
                    "forecasting-notebook",
                    "2.16",
                    tensorflow,
                    registry=registry,
                    JobType="NOTEBOOK_KERNEL",
                    Processor="CPU",
                    VendorGuidance="STABLE",
                ),
            ],
        ),
    ]


def load_demo_catalog(store: ImageStore, catalog: Catalog | None = None) -> None:
    """Fill an empty store with ``catalog`` (by default :func:`demo_catalog`); a store that
    holds anything is left alone."""
    if not store.is_empty():
        return
    for image, versions in demo_catalog() if catalog is None else catalog:
        store.insert_seed_image(image, versions)
