/**
 * The declare step of the release program (program.ts): the components the plan (plan.ts) names,
 * and the stack's outputs. Nothing is decided here: every value comes from the plan.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RegistryCredentials } from "../components/registryCredentials";
import { type DeploymentSettings, ServiceRelease } from "../components/serviceRelease";
import { describePlan } from "../lib/tagPlan";
import { exceptionsFor } from "../lib/vulnerabilities";
import { type DeploymentPlan, parseServiceConfig, type ReleasePlan } from "./plan";
import { reportingRefusals } from "./refusal";

type Secret = pulumi.Output<string>;

export interface ReleaseSummary {
  readonly version: string;
  readonly ref: pulumi.Output<string>;
  readonly digest: pulumi.Output<string>;
  readonly tags: readonly string[];
  readonly platforms: readonly string[];
  readonly floatingTagMoves: readonly string[];
}

/** Declares the release the plan describes: one ServiceRelease per image; returns the outputs. */
export function declarePlan(plan: ReleasePlan<Secret>): Record<string, unknown> {
  const cluster = plan.deployment === undefined ? undefined : declareCluster(plan.deployment);
  const releases: Record<string, ReleaseSummary> = {};
  // Every version's tags wait for every image's scan, known once all are declared below.
  let scansDeclared: (scans: readonly pulumi.Resource[]) => void = () => {};
  const everyScan = new Promise<readonly pulumi.Resource[]>((resolve) => {
    scansDeclared = resolve;
  });
  const scans: pulumi.Resource[] = [];
  for (const warning of plan.scan?.warnings ?? []) pulumi.log.warn(warning);
  for (const service of plan.services) {
    const release = new ServiceRelease(
      service.service.name,
      {
        service: service.service,
        registry: plan.registry,
        organization: plan.organization,
        version: service.version,
        existingTags: service.existingTags,
        sourceHash: service.sourceHash,
        ...(service.reuse === undefined ? {} : { reuse: service.reuse }),
        tagPlan: service.tagPlan,
        platforms: plan.platforms,
        context: service.context,
        builder: plan.builder,
        ...(plan.platformBuilders === undefined ? {} : { platformBuilders: plan.platformBuilders }),
        login: plan.login,
        registryCache: plan.registryCache,
        buildOnPreview: plan.buildOnPreview,
        dockerHub: plan.dockerHub,
        deployment: cluster?.settings,
        ...(plan.signing === undefined ? {} : { signing: plan.signing }),
        ...(plan.scan === undefined
          ? {}
          : {
              scan: {
                failOn: plan.scan.failOn,
                database: plan.scan.database,
                maxDatabaseAgeHours: plan.scan.maxDatabaseAgeHours,
                exceptions: exceptionsFor(plan.scan.exceptions, service.service.name),
                exceptionCount: plan.scan.exceptions.length,
                publishAfter: everyScan,
              },
            }),
      },
      // Deployments render or apply through the same provider as the pull secret.
      cluster === undefined ? {} : { providers: { kubernetes: cluster.provider } },
    );
    if (release.image.scan !== undefined) scans.push(release.image.scan);
    pulumi.log.info(
      describePlan(service.service.name, service.tagPlan, service.existingTags),
      release,
    );
    releases[service.service.name] = {
      version: service.version,
      ref: release.pinnedRef,
      digest: release.image.digest,
      tags: service.tagPlan.manifestTags,
      platforms: plan.platforms,
      floatingTagMoves: service.tagPlan.moves.map(
        (move) => `${move.tag}: ${move.from ?? "(new)"} -> ${move.to}`,
      ),
    };
  }
  scansDeclared(scans);
  const target = plan.deployment?.target;
  return {
    releases,
    ...(target?.kind === "render" ? { manifestsDir: target.manifestsDir } : {}),
    ...(target?.kind === "cluster"
      ? {
          cluster: {
            context: target.context,
            server: target.server,
            namespace: plan.deployment?.namespace,
          },
        }
      : {}),
  };
}

/**
 * The Kubernetes provider (rendering to a folder, or given the cluster's kubeconfig and context
 * explicitly: never the ambient one), the namespace on a cluster, and the pull secret.
 */
function declareCluster(deployment: DeploymentPlan<Secret>): {
  provider: k8s.Provider;
  settings: DeploymentSettings;
} {
  const { target } = deployment;
  const dependsOn: pulumi.Resource[] = [];
  let provider: k8s.Provider;
  if (target.kind === "render") {
    provider = new k8s.Provider("kubernetes", { renderYamlToDirectory: target.manifestsDir });
  } else {
    provider = new k8s.Provider("kubernetes", {
      kubeconfig: pulumi.secret(target.kubeconfig),
      context: target.context,
    });
    dependsOn.push(
      new k8s.core.v1.Namespace(
        "namespace",
        {
          metadata: {
            name: deployment.namespace,
            labels: { "app.kubernetes.io/part-of": "battlescope" },
          },
        },
        { provider },
      ),
    );
  }
  const credentials = new RegistryCredentials(
    "registry-credentials",
    {
      namespace: deployment.namespace,
      registry: deployment.pullSecret.address,
      username: deployment.pullSecret.username,
      password: deployment.pullSecret.password,
    },
    { provider, dependsOn },
  );
  return {
    provider,
    settings: {
      namespace: deployment.namespace,
      replicas: deployment.replicas,
      pullSecretName: credentials.secretName,
      rolloutTimeoutSeconds: deployment.rolloutTimeoutSeconds,
      healthPaths: deployment.healthPaths,
      // The secret is parsed where its value is known; a bad one fails the update there.
      ...(deployment.serviceConfig === undefined
        ? {}
        : { serviceConfig: deployment.serviceConfig.apply(reportingRefusals(parseServiceConfig)) }),
      dependsOn,
    },
  };
}
