"""sameo_core: the ROS-free SAMEO library (model, checkpoints, predictor, data, training)."""
