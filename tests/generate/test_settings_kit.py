"""The kit supplies exactly the configuration keys the code reads (issue 12.5): each one is set in every
overlay by the ConfigMap (values the kit knows: the Services it calls, the dev broker), by the service's
Secret through envFrom (connection strings, passwords, outside dev the broker), or by the appsettings.json
the image ships. Checked on CritterSupply and the bundled example."""

from __future__ import annotations

import pytest

from critterops.commands._common import example_path
from critterops.generate.kubernetes import _config, _pod, _secret_keys, is_static, unset_settings, workload_warnings

from .test_dockerfiles import CRITTERSUPPLY, docker_context


@pytest.mark.parametrize("where", ["example", "crittersupply"])
def test_every_key_the_code_reads_is_set_in_every_overlay(where: str) -> None:
    root = example_path() if where == "example" else CRITTERSUPPLY
    if where == "crittersupply" and not (CRITTERSUPPLY / "CritterSupply.slnx").is_file():
        pytest.skip(f"CritterSupply clone not found at {CRITTERSUPPLY}")
    ctx = docker_context(root)
    warnings = workload_warnings(ctx)
    checked = 0
    for service in ctx.deployable():
        if is_static(service):
            continue  # a WebAssembly app reads wwwroot/appsettings.json in the browser, not the pod's env
        for env in ("dev", "staging", "production"):
            # keys nobody but the user can know (Jwt:Issuer without a default) are named in a warning
            unset = unset_settings(ctx, service, env)
            for key in unset:
                assert any(key.replace(":", "__") in w and service.name in w for w in warnings), (service.name, key)
            checked += len(service.settings)
            container = _pod(ctx, service, env)["spec"]["containers"][0]
            refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
            if _secret_keys(service, env):
                assert f"{service.name}-secrets" in refs, "secrets as environment variables, no code change"
            assert "volumeMounts" not in container or all(
                m["mountPath"] != "/run/secrets/app" for m in container["volumeMounts"]
            ), "no secret files the code never reads"
    assert checked > 0


def test_base_urls_point_at_the_called_services_and_the_dev_broker_is_the_kits() -> None:
    if not (CRITTERSUPPLY / "CritterSupply.slnx").is_file():
        pytest.skip(f"CritterSupply clone not found at {CRITTERSUPPLY}")
    ctx = docker_context(CRITTERSUPPLY)
    backoffice = ctx.system.service("backoffice-api")
    assert backoffice is not None
    data = _config(ctx, backoffice, "production")["data"]
    assert data["ApiClients__OrdersApiUrl"] == "http://orders-api"
    assert "RabbitMQ__hostname" not in data and "RabbitMQ__hostname" in _secret_keys(backoffice, "production")
    dev = _config(ctx, backoffice, "dev")["data"]
    assert dev["RabbitMQ__hostname"] == "rabbitmq" and dev["RabbitMQ__username"] == "critterops"
    assert "ConnectionStrings__postgres" in _secret_keys(backoffice, "dev")
