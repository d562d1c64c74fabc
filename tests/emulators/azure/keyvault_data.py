"""Key Vault's data plane for secrets, as far as a provisioner needs it: the management
plane (Microsoft.KeyVault/vaults/secrets, API 2019-09-01) creates and updates a secret
but can neither read its value nor delete it. The data plane answers at the vault's
`vaultUri`; the emulator gives each vault `{emulator}/keyvault/{vault}/` (Azure gives
`https://{vault}.vault.azure.net/`), and serves there, per the Key Vault REST reference
(API 7.x; errors as `{"error": {"code", "message"}}`):

- `GET secrets/{name}`: the current value (`{"value", "id", "attributes"}`);
- `DELETE secrets/{name}`: soft delete (secrets are recoverable for the vault's retention):
  the secret leaves the management plane's list, its name stays held (a PUT of it is
  refused with 409 `Conflict` until it is purged or recovered), and it is listed at
  `GET deletedsecrets`;
- `DELETE deletedsecrets/{name}`: purge (204), freeing the name;
- `POST deletedsecrets/{name}/recover`: back as it was.
"""

import time

from arm_contract import ArmError

API_VERSIONS = ("7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6")


class SecretsDataPlane:
    def __init__(self):
        self.deleted = {}  # management id lower -> (resource, value)

    def reset(self):
        self.deleted = {}

    def vault_uri(self, base, vault_name):
        return f"{base}/keyvault/{vault_name}/"

    def held(self, rid):
        """A PUT of a soft-deleted secret is refused until it is purged or recovered."""
        if rid in self.deleted:
            name = rid.rsplit("/", 1)[1]
            raise ArmError(409, "Conflict", f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.")

    def forget_vault(self, vault_id):
        prefix = vault_id.lower() + "/secrets/"
        for rid in [r for r in self.deleted if r.startswith(prefix)]:
            del self.deleted[rid]

    def serve(self, arm, method, segments, query):
        """`segments`: the path after `keyvault/` (`{vault}/secrets/{name}`, ...)."""
        if query.get("api-version") not in API_VERSIONS:
            raise ArmError(400, "BadParameter", f"The specified version ({query.get('api-version')}) is not recognized. Consider using the latest supported version ({API_VERSIONS[-1]}).")
        if len(segments) < 3:
            raise ArmError(404, "NotFound", "No such operation.")
        vault_name, collection, name = segments[0], segments[1].lower(), segments[2]
        vault = next((r for rid, r in arm.resources.items() if rid.endswith("/providers/microsoft.keyvault/vaults/" + vault_name.lower())), None)
        if vault is None:
            raise ArmError(404, "VaultNotFound", f"The vault {vault_name} was not found.")
        rid = (vault["id"] + "/secrets/" + name).lower()
        if collection == "secrets" and method == "GET":
            secret = arm.resources.get(rid)
            if secret is None:
                raise ArmError(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")
            return 200, {"value": arm.secret_values.get(rid, ""), "id": f"{self.vault_uri('', vault_name)}secrets/{name}", "attributes": {"enabled": True}}
        if collection == "secrets" and method == "DELETE":
            secret = arm.resources.pop(rid, None)
            if secret is None:
                raise ArmError(404, "SecretNotFound", f"A secret with (name/id) {name} was not found in this key vault.")
            self.deleted[rid] = (secret, arm.secret_values.pop(rid, None))
            return 200, {"recoveryId": f"deletedsecrets/{name}", "deletedDate": int(time.time()), "id": f"secrets/{name}"}
        if collection == "deletedsecrets" and method == "DELETE" and len(segments) == 3:
            if self.deleted.pop(rid, None) is None:
                raise ArmError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            return 204, None
        if collection == "deletedsecrets" and method == "POST" and segments[3:] == ["recover"]:
            entry = self.deleted.pop(rid, None)
            if entry is None:
                raise ArmError(404, "SecretNotFound", f"Deleted Secret not found: {name}")
            arm.resources[rid] = entry[0]
            if entry[1] is not None:
                arm.secret_values[rid] = entry[1]
            return 200, {"id": f"secrets/{name}"}
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported here.")
