"""Cloud Storage, as far as cairn's GCS state backend and its tests use it, on both of the
transports the official Rust client speaks: the JSON API (`storage.v1`, media upload and
download, checked against its discovery document by cairn_gcp.py) for object data, and
gRPC (`google.storage.v2.Storage`, its messages from the `google-cloud-storage` package's
generated types, which `serve` installs) for object listing and deletion.

Behaviour, as Cloud Storage's documentation states it:
* buckets: insert (name rules; 409 `conflict` when taken) / get / delete (409 when not
  empty); gRPC CreateBucket / GetBucket / DeleteBucket the same;
* objects: one live generation per name (no versioning), a new generation (a strictly
  growing microsecond count) for every write and metageneration 1; crc32c and md5 kept
  and answered (`x-goog-hash`), a write whose declared crc32c or md5 does not match its
  data is a 400; preconditions `ifGenerationMatch` (0: the object must not exist),
  `ifGenerationNotMatch`, `ifMetagenerationMatch`, `ifMetagenerationNotMatch` on insert,
  get and delete: a 412 `conditionNotMet` (gRPC FAILED_PRECONDITION) when one does not
  hold; 404 "No such object: b/o" (NOT_FOUND);
* uploads: `uploadType=media`, `multipart` (metadata part checked against the `Object`
  schema) and `resumable` (a session URL, chunks with `Content-Range`, 308 with `Range`
  until the last one; the preconditions are checked when the object is finalized);
* downloads: `alt=media` with `x-goog-generation`, `x-goog-metageneration`,
  `x-goog-stored-content-length`, `x-goog-hash`, and `Range`;
* listing: `prefix`, `delimiter` (with `prefixes`), `startOffset` / `endOffset`, paging by
  `maxResults` / `pageToken` (gRPC `page_size`, `lexicographic_start` / `_end`), names in
  lexicographic order.
Everything else routed to Cloud Storage answers 501 (JSON) or UNIMPLEMENTED (gRPC) naming
the method.
"""

import base64
import hashlib
import re
import time
import urllib.parse

from gcp_contract import ApiError, check_value

BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$")
MAX_PAGE = 1000


class Media:
    """An answer that is not JSON: object data with its headers."""

    def __init__(self, status, body, headers):
        self.status, self.body, self.headers = status, body, headers


def crc32c(data):
    import google_crc32c  # installed with google-cloud-storage

    return google_crc32c.value(data)


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class Storage:
    def __init__(self):
        # Faults, holds and the call log reach it through cairn_gcp.call(), as for JSON.
        self.reset()

    def reset(self):
        self.buckets = {}
        self.sessions = {}
        self.last_generation = 0

    def settle(self):
        pass

    # -- the model ----------------------------------------------------------------------

    def generation(self):
        self.last_generation = max(self.last_generation + 1, int(time.time() * 1_000_000))
        return self.last_generation

    def bucket(self, name):
        found = self.buckets.get(name)
        if found is None:
            raise ApiError(404, "The specified bucket does not exist.", "notFound")
        return found

    def create_bucket(self, name, project, labels=None, location=None):
        if not BUCKET_NAME.match(name or "") or ".." in name or name.startswith("goog"):
            raise ApiError(400, f"Invalid bucket name: '{name}'", "invalid")
        if name in self.buckets:
            raise ApiError(409, "Your previous request to create the named bucket succeeded and you already own it.", "conflict")
        now = time.time()
        self.buckets[name] = {
            "name": name,
            "project": project,
            "labels": dict(labels or {}),
            "location": (location or "US").upper(),
            "created": now,
            "metageneration": 1,
            "objects": {},
        }
        return self.buckets[name]

    def delete_bucket(self, name):
        if self.bucket(name)["objects"]:
            raise ApiError(409, "The bucket you tried to delete is not empty.", "conflict")
        del self.buckets[name]

    def check_preconditions(self, bucket, name, current, gm=None, gnm=None, mgm=None, mgnm=None, reading=False):
        """Cloud Storage's preconditions against `current` (None: no live object). A read
        whose `ifGenerationNotMatch` fails is a 304 Not Modified, a write's a 412."""
        generation = current["generation"] if current else 0
        if gm is not None and int(gm) != generation:
            raise ApiError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
        if gnm is not None and int(gnm) == generation:
            raise ApiError(304 if reading else 412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
        if mgm is not None or mgnm is not None:
            if current is None:
                raise ApiError(404, f"No such object: {bucket}/{name}", "notFound")
            if mgm is not None and int(mgm) != current["metageneration"]:
                raise ApiError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")
            if mgnm is not None and int(mgnm) == current["metageneration"]:
                raise ApiError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet")

    def write(self, bucket_name, name, data, metadata, preconditions):
        bucket = self.bucket(bucket_name)
        if not name or len(name.encode("utf-8")) > 1024 or "\r" in name or "\n" in name or name in (".", ".."):
            raise ApiError(400, f"Invalid object name: '{name}'", "invalid")
        crc, md5 = crc32c(data), hashlib.md5(data).digest()
        if "crc32c" in metadata and base64.b64decode(metadata["crc32c"]) != crc.to_bytes(4, "big"):
            raise ApiError(400, f"Provided CRC32C \"{metadata['crc32c']}\" doesn't match calculated CRC32C \"{b64(crc.to_bytes(4, 'big'))}\".", "invalid")
        if "md5Hash" in metadata and base64.b64decode(metadata["md5Hash"]) != md5:
            raise ApiError(400, f"Provided MD5 hash \"{metadata['md5Hash']}\" doesn't match calculated MD5 hash \"{b64(md5)}\".", "invalid")
        self.check_preconditions(bucket_name, name, bucket["objects"].get(name), **preconditions)
        now = time.time()
        obj = {
            "name": name,
            "bucket": bucket_name,
            "generation": self.generation(),
            "metageneration": 1,
            "data": bytes(data),
            "crc32c": crc,
            "md5": md5,
            "contentType": metadata.get("contentType") or "application/octet-stream",
            "metadata": dict(metadata.get("metadata") or {}),
            "storageClass": metadata.get("storageClass") or "STANDARD",
            "created": now,
        }
        bucket["objects"][name] = obj
        return obj

    def live(self, bucket_name, name, generation=None):
        obj = self.bucket(bucket_name)["objects"].get(name)
        if obj is None or (generation is not None and int(generation) != obj["generation"]):
            raise ApiError(404, f"No such object: {bucket_name}/{name}", "notFound")
        return obj

    def delete(self, bucket_name, name, generation=None, preconditions=None):
        obj = self.live(bucket_name, name, generation)
        self.check_preconditions(bucket_name, name, obj, **(preconditions or {}))
        del self.buckets[bucket_name]["objects"][name]

    def listing(self, bucket_name, prefix="", delimiter="", start="", end="", token="", size=MAX_PAGE):
        """(objects, prefixes, next token) of one page."""
        objects = self.bucket(bucket_name)["objects"]
        size = MAX_PAGE if not size or size > MAX_PAGE else size
        if size < 0:
            raise ApiError(400, "Invalid argument: maxResults must be positive.", "invalid")
        after = base64.urlsafe_b64decode(token.encode()).decode() if token else None
        items, prefixes, last = [], [], None
        for name in sorted(objects):
            if not name.startswith(prefix) or (start and name < start) or (end and name >= end):
                continue
            if after is not None and name <= after:
                continue
            if delimiter:
                cut = name.find(delimiter, len(prefix))
                if cut >= 0:
                    common = name[: cut + len(delimiter)]
                    if prefixes and prefixes[-1] == common:
                        last = name
                        continue
                    if len(items) + len(prefixes) >= size:
                        return items, prefixes, base64.urlsafe_b64encode(last.encode()).decode()
                    prefixes.append(common)
                    last = name
                    continue
            if len(items) + len(prefixes) >= size:
                return items, prefixes, base64.urlsafe_b64encode(last.encode()).decode()
            items.append(objects[name])
            last = name
        return items, prefixes, ""

    # -- JSON API -----------------------------------------------------------------------

    def json_object(self, obj, host):
        quoted = urllib.parse.quote(obj["name"], safe="")
        return {
            "kind": "storage#object",
            "id": f"{obj['bucket']}/{obj['name']}/{obj['generation']}",
            "selfLink": f"{host}/storage/v1/b/{obj['bucket']}/o/{quoted}",
            "mediaLink": f"{host}/download/storage/v1/b/{obj['bucket']}/o/{quoted}?generation={obj['generation']}&alt=media",
            "name": obj["name"],
            "bucket": obj["bucket"],
            "generation": str(obj["generation"]),
            "metageneration": str(obj["metageneration"]),
            "contentType": obj["contentType"],
            "storageClass": obj["storageClass"],
            "size": str(len(obj["data"])),
            "md5Hash": b64(obj["md5"]),
            "crc32c": b64(obj["crc32c"].to_bytes(4, "big")),
            "etag": b64(obj["generation"].to_bytes(8, "big")),
            "timeCreated": rfc3339(obj["created"]),
            "updated": rfc3339(obj["created"]),
            "timeStorageClassUpdated": rfc3339(obj["created"]),
            "timeFinalized": rfc3339(obj["created"]),
            **({"metadata": obj["metadata"]} if obj["metadata"] else {}),
        }

    def json_bucket(self, b, host):
        return {
            "kind": "storage#bucket",
            "id": b["name"],
            "selfLink": f"{host}/storage/v1/b/{b['name']}",
            "name": b["name"],
            "projectNumber": "100000000001",
            "metageneration": str(b["metageneration"]),
            "location": b["location"],
            "storageClass": "STANDARD",
            "etag": "CAE=",
            "timeCreated": rfc3339(b["created"]),
            "updated": rfc3339(b["created"]),
            **({"labels": b["labels"]} if b["labels"] else {}),
        }

    def handle(self, method, params, query, body, request=None):
        """A JSON API call. `request`: the HTTP request's headers, raw body and host (uploads
        and ranges need them)."""
        q = {k: v[-1] for k, v in query.items()}
        for k in ("ifGenerationMatch", "ifGenerationNotMatch", "ifMetagenerationMatch", "ifMetagenerationNotMatch", "generation", "maxResults"):
            if k in q and not re.fullmatch(r"-?[0-9]+", q[k]):
                raise ApiError(400, f"Invalid argument: {k}={q[k]!r} is not an integer.", "invalid")
        pre = {
            "gm": q.get("ifGenerationMatch"),
            "gnm": q.get("ifGenerationNotMatch"),
            "mgm": q.get("ifMetagenerationMatch"),
            "mgnm": q.get("ifMetagenerationNotMatch"),
        }
        host = request["host"] if request else "http://127.0.0.1"
        mid = method.id
        if mid == "storage.buckets.insert":
            if not q.get("project"):
                raise ApiError(400, "Required parameter: project", "required")
            b = self.create_bucket(body.get("name"), q["project"], body.get("labels"), body.get("location"))
            return self.json_bucket(b, host)
        if mid == "storage.buckets.get":
            return self.json_bucket(self.bucket(params[0]), host)
        if mid == "storage.buckets.delete":
            self.delete_bucket(params[0])
            return Media(204, b"", {})
        if mid == "storage.objects.insert" and getattr(method, "upload", False):
            return self.upload(method, params[0], q, pre, request)
        if mid == "storage.objects.get":
            obj = self.live(params[0], params[1], q.get("generation"))
            self.check_preconditions(params[0], params[1], obj, reading=True, **pre)
            if q.get("alt") == "media":
                return self.download(obj, request["headers"] if request else {})
            return self.json_object(obj, host)
        if mid == "storage.objects.delete":
            self.delete(params[0], params[1], q.get("generation"), pre)
            return Media(204, b"", {})
        if mid == "storage.objects.list":
            items, prefixes, token = self.listing(
                params[0], q.get("prefix", ""), q.get("delimiter", ""), q.get("startOffset", ""),
                q.get("endOffset", ""), q.get("pageToken", ""), int(q.get("maxResults", MAX_PAGE)),
            )
            answer = {"kind": "storage#objects", "items": [self.json_object(o, host) for o in items]}
            if prefixes:
                answer["prefixes"] = prefixes
            if token:
                answer["nextPageToken"] = token
            return answer
        raise ApiError(501, f"{mid} is routed but not emulated yet.", "notImplemented")

    def download(self, obj, headers):
        data, total = obj["data"], len(obj["data"])
        status, start, end = 200, 0, total
        wanted = headers.get("Range") or headers.get("range")
        if wanted:
            m = re.fullmatch(r"bytes=(-?\d+)-?(\d*)", wanted.strip())
            if not m:
                raise ApiError(400, f"Invalid Range header: {wanted}", "invalid")
            first = int(m.group(1))
            start = max(0, total + first) if first < 0 else first
            end = min(total, int(m.group(2)) + 1) if m.group(2) else total
            if start >= total and total > 0:
                raise ApiError(416, "The requested range cannot be satisfied.", "requestedRangeNotSatisfiable")
            status = 206
        out = {
            "Content-Type": obj["contentType"],
            "ETag": b64(obj["generation"].to_bytes(8, "big")),
            "x-goog-generation": str(obj["generation"]),
            "x-goog-metageneration": str(obj["metageneration"]),
            "x-goog-stored-content-length": str(total),
            "x-goog-stored-content-encoding": "identity",
            "x-goog-storage-class": obj["storageClass"],
            "x-goog-hash": f"crc32c={b64(obj['crc32c'].to_bytes(4, 'big'))},md5={b64(obj['md5'])}",
        }
        if status == 206:
            out["Content-Range"] = f"bytes {start}-{end - 1}/{total}"
        return Media(status, data[start:end], out)

    def upload(self, method, bucket_name, q, pre, request):
        kind = q.get("uploadType")
        headers, raw, host = request["headers"], request["raw"], request["host"]
        self.bucket(bucket_name)
        if kind == "media":
            name = q.get("name")
            if not name:
                raise ApiError(400, "Required parameter: name", "required")
            obj = self.write(bucket_name, name, raw, {"contentType": headers.get("Content-Type")}, pre)
            return self.json_object(obj, host)
        if kind == "multipart":
            metadata, data = multipart(headers.get("Content-Type", ""), raw)
            self.check_metadata(method, metadata)
            name = q.get("name") or metadata.get("name")
            if not name:
                raise ApiError(400, "Required parameter: name", "required")
            obj = self.write(bucket_name, name, data, metadata, pre)
            return self.json_object(obj, host)
        if kind == "resumable":
            if "upload_id" in q:
                return self.resume(q["upload_id"], headers, raw, host)
            metadata = json_metadata(raw)
            self.check_metadata(method, metadata)
            name = q.get("name") or metadata.get("name")
            if not name:
                raise ApiError(400, "Required parameter: name", "required")
            upload_id = b64(hashlib.sha256(f"{bucket_name}/{name}/{time.time_ns()}/{len(self.sessions)}".encode()).digest())[:32].replace("/", "_").replace("+", "-")
            self.sessions[upload_id] = {"bucket": bucket_name, "name": name, "metadata": metadata, "pre": pre, "data": bytearray(), "done": None}
            location = f"{host}/upload/storage/v1/b/{bucket_name}/o?uploadType=resumable&name={urllib.parse.quote(name, safe='')}&upload_id={upload_id}"
            return Media(200, b"", {"Location": location, "X-GUploader-UploadID": upload_id})
        raise ApiError(400, f"Invalid upload type: {kind!r}", "invalid")

    def resume(self, upload_id, headers, raw, host):
        session = self.sessions.get(upload_id)
        if session is None:
            raise ApiError(404, "No such upload session.", "notFound")
        if session["done"] is not None:
            return self.json_object(session["done"], host)
        spec = (headers.get("Content-Range") or "").strip()
        m = re.fullmatch(r"bytes (\*|(\d+)-(\d+))/(\*|\d+)", spec)
        if not m:
            raise ApiError(400, f"Invalid Content-Range: {spec!r}", "invalid")
        have = len(session["data"])
        if m.group(1) != "*":
            first, last = int(m.group(2)), int(m.group(3))
            if last - first + 1 != len(raw):
                raise ApiError(400, "Content-Range does not match the length of the data.", "invalid")
            if first > have:
                raise ApiError(400, f"Invalid request. Range starts at {first}, {have} bytes are persisted.", "invalid")
            session["data"] += raw[have - first:]
        elif raw:
            raise ApiError(400, "Data sent without a range.", "invalid")
        total = m.group(4)
        if total != "*" and int(total) == len(session["data"]):
            obj = self.write(session["bucket"], session["name"], bytes(session["data"]), session["metadata"], session["pre"])
            session["done"] = obj
            return self.json_object(obj, host)
        persisted = len(session["data"])
        return Media(308, b"", {"Range": f"bytes=0-{persisted - 1}"} if persisted else {})

    def check_metadata(self, method, metadata):
        problems = []
        check_value(method, metadata, {"$ref": "Object"}, "resource", problems, 0)
        if problems:
            raise ApiError(400, "; ".join(problems), "invalid")

    # -- gRPC (google.storage.v2.Storage) -----------------------------------------------

    def grpc_handler(self, call):
        """A grpc.GenericRpcHandler serving the v2 methods emulated here; `call(mid, work)`
        runs `work` as the emulator runs every call (faults, holds, the lock, the call log).
        The JSON API's method ids name them in holds and the log."""
        import grpc
        from google.cloud._storage_v2.types import storage as v2
        from google.protobuf import empty_pb2, timestamp_pb2

        def bucket_of(path, field="bucket"):
            m = re.fullmatch(r"projects/_/buckets/([^/]+)", path or "")
            if not m:
                raise ApiError(400, f"Invalid resource name for {field}: '{path}'. Expected projects/_/buckets/{{bucket}}.", "invalid")
            return m.group(1)

        def timestamp(t):
            ts = timestamp_pb2.Timestamp()
            ts.FromNanoseconds(int(t * 1e9))
            return ts

        def message(obj):
            return v2.Object(
                name=obj["name"],
                bucket=f"projects/_/buckets/{obj['bucket']}",
                etag=b64(obj["generation"].to_bytes(8, "big")),
                generation=obj["generation"],
                metageneration=obj["metageneration"],
                storage_class=obj["storageClass"],
                size=len(obj["data"]),
                content_type=obj["contentType"],
                create_time=timestamp(obj["created"]),
                update_time=timestamp(obj["created"]),
                finalize_time=timestamp(obj["created"]),
                checksums=v2.ObjectChecksums(crc32c=obj["crc32c"], md5_hash=obj["md5"]),
                metadata=obj["metadata"],
            )

        def bucket_message(b):
            return v2.Bucket(
                name=f"projects/_/buckets/{b['name']}",
                bucket_id=b["name"],
                project=f"projects/{b['project']}",
                metageneration=b["metageneration"],
                location=b["location"],
                storage_class="STANDARD",
                labels=b["labels"],
                create_time=timestamp(b["created"]),
            )

        def preconditions(req):
            def has(field):
                return field in req  # proto-plus: `in` tells an optional field set

            return {
                "gm": req.if_generation_match if has("if_generation_match") else None,
                "gnm": req.if_generation_not_match if has("if_generation_not_match") else None,
                "mgm": req.if_metageneration_match if has("if_metageneration_match") else None,
                "mgnm": req.if_metageneration_not_match if has("if_metageneration_not_match") else None,
            }

        def delete_object(req):
            bucket = bucket_of(req.bucket)
            if not req.object_:
                raise ApiError(400, "Object name is required.", "invalid")
            self.delete(bucket, req.object_, req.generation or None, preconditions(req))
            return empty_pb2.Empty()

        def get_object(req):
            bucket = bucket_of(req.bucket)
            obj = self.live(bucket, req.object_, req.generation or None)
            self.check_preconditions(bucket, req.object_, obj, reading=True, **preconditions(req))
            return message(obj)

        def list_objects(req):
            if req.versions:
                raise ApiError(501, "Listing noncurrent versions is not emulated (buckets keep none).", "notImplemented")
            items, prefixes, token = self.listing(
                bucket_of(req.parent, "parent"), req.prefix, req.delimiter, req.lexicographic_start,
                req.lexicographic_end, req.page_token, req.page_size,
            )
            return v2.ListObjectsResponse(objects=[message(o) for o in items], prefixes=prefixes, next_page_token=token)

        def create_bucket(req):
            m = re.fullmatch(r"projects/([^/]+)", req.parent or "")
            if not m:
                raise ApiError(400, f"Invalid parent: '{req.parent}'. Expected projects/{{project}}.", "invalid")
            project = req.bucket.project.removeprefix("projects/") or m.group(1)
            b = self.create_bucket(req.bucket_id, project, dict(req.bucket.labels), req.bucket.location or None)
            return bucket_message(b)

        def get_bucket(req):
            return bucket_message(self.bucket(bucket_of(req.name, "name")))

        def delete_bucket(req):
            self.delete_bucket(bucket_of(req.name, "name"))
            return empty_pb2.Empty()

        methods = {
            "DeleteObject": ("storage.objects.delete", v2.DeleteObjectRequest, delete_object, empty_pb2.Empty.SerializeToString),
            "GetObject": ("storage.objects.get", v2.GetObjectRequest, get_object, v2.Object.serialize),
            "ListObjects": ("storage.objects.list", v2.ListObjectsRequest, list_objects, v2.ListObjectsResponse.serialize),
            "CreateBucket": ("storage.buckets.insert", v2.CreateBucketRequest, create_bucket, v2.Bucket.serialize),
            "GetBucket": ("storage.buckets.get", v2.GetBucketRequest, get_bucket, v2.Bucket.serialize),
            "DeleteBucket": ("storage.buckets.delete", v2.DeleteBucketRequest, delete_bucket, empty_pb2.Empty.SerializeToString),
        }
        codes = {
            400: grpc.StatusCode.INVALID_ARGUMENT,
            404: grpc.StatusCode.NOT_FOUND,
            409: grpc.StatusCode.ALREADY_EXISTS,
            412: grpc.StatusCode.FAILED_PRECONDITION,
            304: grpc.StatusCode.FAILED_PRECONDITION,
            429: grpc.StatusCode.RESOURCE_EXHAUSTED,
            501: grpc.StatusCode.UNIMPLEMENTED,
            503: grpc.StatusCode.UNAVAILABLE,
        }

        def unary(mid, request_type, work, serialize):
            def behaviour(req, context):
                try:
                    return call(mid, lambda: work(req))
                except ApiError as e:
                    code = codes.get(e.code, grpc.StatusCode.INTERNAL)
                    context.abort(code, e.message)

            return grpc.unary_unary_rpc_method_handler(behaviour, request_deserializer=request_type.deserialize, response_serializer=serialize)

        handlers = {name: unary(*spec) for name, spec in methods.items()}

        class Handler(grpc.GenericRpcHandler):
            def service(self, details):
                service, _, name = details.method.lstrip("/").partition("/")
                if service != "google.storage.v2.Storage":
                    return None
                found = handlers.get(name)
                if found is None:
                    # Streaming methods too: answered before reading any request.
                    def unimplemented(_request, context, name=name):
                        context.abort(grpc.StatusCode.UNIMPLEMENTED, f"google.storage.v2.Storage/{name} is not emulated.")

                    return grpc.unary_unary_rpc_method_handler(unimplemented, request_deserializer=lambda b: b, response_serializer=lambda b: b)
                return found

        return Handler()


def multipart(content_type, raw):
    """(metadata, data) of a `multipart/related` upload: a JSON part, then the media."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not content_type.lower().startswith("multipart/related") or not m:
        raise ApiError(400, f"Invalid multipart request: Content-Type {content_type!r} is not multipart/related with a boundary.", "invalid")
    delimiter = b"--" + m.group(1).encode()
    pieces = raw.split(delimiter)
    # pieces: preamble, part, part, ..., "--" epilogue
    parts = []
    for piece in pieces[1:]:
        if piece.startswith(b"--"):
            break
        piece = piece[2:] if piece.startswith(b"\r\n") else piece
        head, sep, body = piece.partition(b"\r\n\r\n")
        if not sep:
            raise ApiError(400, "Invalid multipart request: a part has no header/body separator.", "invalid")
        parts.append(body[:-2] if body.endswith(b"\r\n") else body)
    if len(parts) < 2:
        raise ApiError(400, f"Invalid multipart request with {len(parts)} parts: metadata and media are required.", "invalid")
    metadata = json_metadata(parts[0])
    for extra in parts[2:]:  # trailing checksums, as the Rust client may send them
        metadata.update(json_metadata(extra))
    return metadata, parts[1]


def json_metadata(raw):
    import json

    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError as e:
        raise ApiError(400, f"Invalid JSON payload received. {e}.", "parseError")
    if not isinstance(value, dict):
        raise ApiError(400, "Invalid JSON payload received. The metadata must be a JSON object.", "parseError")
    return value
