// The AWS SDK for JavaScript v3 against a running berth: a second SDK family (beside
// botocore) guarding the wire formats of ECR (JSON 1.1) and IAM (Query/XML).
// Run by tests/integration/test_js_sdk.py with BERTH_URL, BERTH_REGION, BERTH_ACCOUNT_ID,
// BERTH_ACCESS_KEY_ID, BERTH_SECRET_ACCESS_KEY and BERTH_SUFFIX (fresh names) set. Each
// step asserts; the last line printed is a JSON summary of what was checked.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";

import {
  BatchCheckLayerAvailabilityCommand,
  BatchGetImageCommand,
  CompleteLayerUploadCommand,
  CreateRepositoryCommand,
  DeleteRepositoryCommand,
  DescribeImagesCommand,
  DescribeRepositoriesCommand,
  ECRClient,
  GetAuthorizationTokenCommand,
  InitiateLayerUploadCommand,
  PutImageCommand,
  RepositoryNotFoundException,
  UploadLayerPartCommand,
} from "@aws-sdk/client-ecr";
import {
  CreateUserCommand,
  DeleteUserCommand,
  GetUserCommand,
  IAMClient,
  ListUserTagsCommand,
  NoSuchEntityException,
  TagUserCommand,
  UntagUserCommand,
} from "@aws-sdk/client-iam";

const env = process.env;
const endpoint = env.BERTH_URL;
const credentials = { accessKeyId: env.BERTH_ACCESS_KEY_ID, secretAccessKey: env.BERTH_SECRET_ACCESS_KEY };
const account = env.BERTH_ACCOUNT_ID;
const suffix = env.BERTH_SUFFIX;
const ecr = new ECRClient({ endpoint, region: env.BERTH_REGION, credentials, maxAttempts: 1 });
// IAM is global: a client set to another region must work as well
const iam = new IAMClient({ endpoint, region: "eu-central-1", credentials, maxAttempts: 1 });
const checked = [];

const sha256 = (bytes) => "sha256:" + createHash("sha256").update(bytes).digest("hex");

async function pushBlob(repositoryName, bytes) {
  const { uploadId, partSize } = await ecr.send(new InitiateLayerUploadCommand({ repositoryName }));
  assert.ok(uploadId && partSize > 0);
  const part = await ecr.send(new UploadLayerPartCommand({
    repositoryName, uploadId, partFirstByte: 0, partLastByte: bytes.length - 1, layerPartBlob: bytes }));
  assert.equal(part.lastByteReceived, bytes.length - 1);
  const done = await ecr.send(new CompleteLayerUploadCommand({ repositoryName, uploadId, layerDigests: [sha256(bytes)] }));
  assert.equal(done.layerDigest, sha256(bytes));
  return { digest: done.layerDigest, size: bytes.length };
}

async function ecrChecks() {
  const repositoryName = `js-sdk/repo-${suffix}`;
  const created = (await ecr.send(new CreateRepositoryCommand({
    repositoryName, imageTagMutability: "IMMUTABLE", tags: [{ Key: "sdk", Value: "js" }] }))).repository;
  assert.equal(created.repositoryName, repositoryName);
  assert.equal(created.registryId, account);
  assert.equal(created.repositoryArn, `arn:aws:ecr:${env.BERTH_REGION}:${account}:repository/${repositoryName}`);
  assert.ok(created.createdAt instanceof Date && Math.abs(created.createdAt - Date.now()) < 600000);
  assert.equal(created.imageTagMutability, "IMMUTABLE");
  checked.push("CreateRepository");

  const described = (await ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName] }))).repositories;
  assert.equal(described.length, 1);
  assert.equal(described[0].repositoryUri, created.repositoryUri);
  await assert.rejects(ecr.send(new DescribeRepositoriesCommand({ repositoryNames: [repositoryName + "-none"] })),
    (e) => e instanceof RepositoryNotFoundException && e.$metadata.httpStatusCode === 400 &&
      e.message.includes(`'${repositoryName}-none'`));
  checked.push("DescribeRepositories");

  const auth = (await ecr.send(new GetAuthorizationTokenCommand({}))).authorizationData[0];
  const [user, password] = Buffer.from(auth.authorizationToken, "base64").toString().split(/:(.*)/s);
  assert.equal(user, "AWS");
  assert.ok(auth.expiresAt instanceof Date && auth.expiresAt - Date.now() > 11 * 3600 * 1000);
  assert.equal(auth.proxyEndpoint, endpoint);
  const v2 = await fetch(`${auth.proxyEndpoint}/v2/`, {
    headers: { Authorization: "Basic " + Buffer.from(`AWS:${password}`).toString("base64") } });
  assert.equal(v2.status, 200);
  checked.push("GetAuthorizationToken");

  const config = await pushBlob(repositoryName, Buffer.from(JSON.stringify({
    architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] }, config: {} })));
  const layer = await pushBlob(repositoryName, Buffer.from("a layer's bytes from the JavaScript SDK " + suffix));
  const avail = await ecr.send(new BatchCheckLayerAvailabilityCommand({
    repositoryName, layerDigests: [config.digest, layer.digest] }));
  assert.deepEqual(avail.layers.map((l) => l.layerAvailability), ["AVAILABLE", "AVAILABLE"]);
  const manifest = JSON.stringify({
    schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }] });
  const put = (await ecr.send(new PutImageCommand({ repositoryName, imageManifest: manifest, imageTag: "v1" }))).image;
  assert.equal(put.imageId.imageDigest, sha256(manifest));
  assert.equal(put.imageId.imageTag, "v1");
  assert.equal(put.imageManifestMediaType, "application/vnd.oci.image.manifest.v1+json");
  checked.push("PutImage");

  const got = await ecr.send(new BatchGetImageCommand({
    repositoryName, imageIds: [{ imageTag: "v1" }, { imageTag: "absent" }] }));
  assert.equal(got.images.length, 1);
  assert.equal(got.images[0].imageManifest, manifest);
  assert.equal(got.images[0].imageId.imageDigest, sha256(manifest));
  assert.deepEqual(got.failures, [{ imageId: { imageTag: "absent" }, failureCode: "ImageNotFound",
    failureReason: "Requested image not found" }]);
  const images = (await ecr.send(new DescribeImagesCommand({ repositoryName }))).imageDetails;
  assert.equal(images.length, 1);
  assert.deepEqual(images[0].imageTags, ["v1"]);
  assert.ok(images[0].imagePushedAt instanceof Date);
  checked.push("BatchGetImage");

  await ecr.send(new DeleteRepositoryCommand({ repositoryName, force: true }));
}

async function iamChecks() {
  const UserName = `js-sdk-user-${suffix}`;
  const user = (await iam.send(new CreateUserCommand({ UserName, Path: "/js/", Tags: [{ Key: "team", Value: "web" }] }))).User;
  assert.equal(user.Arn, `arn:aws:iam::${account}:user/js/${UserName}`);
  assert.ok(user.UserId.startsWith("AIDA"));
  assert.ok(user.CreateDate instanceof Date);
  checked.push("CreateUser");

  await iam.send(new TagUserCommand({ UserName, Tags: [{ Key: "Env", Value: "prod" }, { Key: "TEAM", Value: "api" }] }));
  checked.push("TagUser");
  const listed = await iam.send(new ListUserTagsCommand({ UserName }));
  assert.deepEqual(listed.Tags, [{ Key: "Env", Value: "prod" }, { Key: "TEAM", Value: "api" }]);
  assert.equal(listed.IsTruncated, false);
  const page = await iam.send(new ListUserTagsCommand({ UserName, MaxItems: 1 }));
  assert.equal(page.IsTruncated, true);
  const rest = await iam.send(new ListUserTagsCommand({ UserName, Marker: page.Marker }));
  assert.deepEqual([...page.Tags, ...rest.Tags], listed.Tags);
  checked.push("ListUserTags");
  assert.deepEqual((await iam.send(new GetUserCommand({ UserName }))).User.Tags, listed.Tags);

  await iam.send(new UntagUserCommand({ UserName, TagKeys: ["env", "team"] }));
  assert.deepEqual((await iam.send(new ListUserTagsCommand({ UserName }))).Tags, []);
  await assert.rejects(iam.send(new ListUserTagsCommand({ UserName: UserName + "-none" })),
    (e) => e instanceof NoSuchEntityException && e.$metadata.httpStatusCode === 404 &&
      e.message === `The user with name ${UserName}-none cannot be found.`);
  await iam.send(new DeleteUserCommand({ UserName }));
  checked.push("UntagUser");
}

await ecrChecks();
await iamChecks();
console.log(JSON.stringify({ checked }));
