# pbcheck.py PBCOR FLAT TRUTH (tests/pbcor.bats): JSON list, one entry per truth source
# inside the blank-free part of PBCOR.
# For every truth source inside the
# PB-corrected image, the beam the pipeline divided by (FLAT / PBCOR at the
# source's pixel) against the simulator's own attenuation (apparent flux /
# intrinsic flux at the image frequency, from the truth file).
import json, sys, warnings
import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
warnings.simplefilter('ignore')
pbf, flf, truth = sys.argv[1:4]
hp, hf = fits.open(pbf)[0], fits.open(flf)[0]
w = WCS(hp.header).celestial
p, f = hp.data.squeeze(), hf.data.squeeze()
nu = hp.header['CRVAL3']
t = json.load(open(truth))
out = []
for s in t['sources']:
    x, y = w.world_to_pixel_values(s['ra_deg'], s['dec_deg'])
    xi, yi = int(round(float(x))), int(round(float(y)))
    if not (0 <= xi < p.shape[1] and 0 <= yi < p.shape[0]) or not np.isfinite(p[yi, xi]):
        continue
    pipe = f[yi, xi] / p[yi, xi]
    sim = s['apparent_flux_jy'][0] / (s['flux_jy'] * (nu / s['ref_freq_hz']) ** s['spectral_index'])
    out.append({'name': s['name'], 'pb_pipeline': float(pipe), 'pb_sim': sim, 'ratio': float(pipe / sim)})
print(json.dumps(out))
