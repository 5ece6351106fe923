/** The one OpenImages cache of the extension host, shared by the FileSystemProvider, the Files tabs and the hex inspector. */
import { allowPathForTrust } from '../trust';
import { OpenImages, type IdStore } from './open-images';

let images: OpenImages | undefined;

/** Made on activation with the globalState store; made bare when a test or an early caller gets here first. */
export function guestImages(store?: IdStore): OpenImages {
  if (store) {
    images?.dispose();
    images = new OpenImages(store, allowPathForTrust);
  }
  images ??= new OpenImages(undefined, allowPathForTrust);
  return images;
}
