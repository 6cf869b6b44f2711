"""Demo data: seeded generators of realistic recordings and the defects QC must find.

For tests, examples, benchmarks and ``embodex synth`` only — production code never imports this
package (tests/test_layers.py guards it).

* synth — episodes and datasets of a 20-joint humanoid in the 23 reference scenes
* raw — raw recordings in the AgiBot World layout (h5, MP4, depth PNG, task JSON)
* mcap — ROS 2 MCAP recordings
* sample — ``embodex synth`` in one call (:func:`make_sample`)
* defects — episodes with known faults (frozen camera, joint-limit breach, timing gaps…)
* recorder — QC's calibration corpus: a realistic recorder's clean takes and takes with one
  known fault each (jittered, drifting joint clock; one-arm tasks; no calibration shipped)
"""
