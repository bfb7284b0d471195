/**
 * What an AWS API emulator behind --endpoint-url cannot do. moto_server implements Lambda's
 * control plane but cannot run a container-image function (that needs Docker), so a deploy
 * there cannot be verified by invoking it: deploy says so instead of waiting for a result.
 */
export async function emulatorCannotRunImages(endpointUrl: string | undefined): Promise<string | undefined> {
  if (!endpointUrl) return undefined;
  try {
    // moto_server's own management API; AWS and other emulators answer 404 or refuse
    const res = await fetch(new URL("/moto-api/", endpointUrl), { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    if (res.ok) return `${endpointUrl} is moto_server, which cannot run container-image functions: the function was not invoked, so this deployment is unverified`;
  } catch {
    // unreachable or not HTTP: let verify run and report what it finds
  }
  return undefined;
}
