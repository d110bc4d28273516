// edgecolor for C++: the bundled colorization network run by OpenCV's DNN module (4.6 or newer), with the same
// Lab pipeline as the Python runtime (edgecolor/pipeline.py). Load once, then call colorize() per frame.
#pragma once

#include <string>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

namespace edgecolor {

// What a model promises (edgecolor/contract.py), read from the JSON written beside the ONNX file.
struct Contract {
    std::string name, version, inputName, outputName, colorSpace;
    double lScale = 0.02, lShift = -1.0, abScale = 1.0;
    int sizeMultiple = 32, workingSize = 256, outputStride = 4;
};

// Reads "<model>.json" (model.onnx -> model.json); throws std::runtime_error with a one-line reason.
Contract readContract(const std::string& onnxPath);

// The network input size for an image (pipeline.network_size): the long side about `longSide`, each side
// the nearest multiple of `multiple` (the image is stretched a few per cent, not padded), at least two
// multiples. The one place the working size is decided.
cv::Size networkSize(cv::Size image, int longSide, int multiple);

class Colorizer {
public:
    // Loads the network and its contract: slow (tens of ms); do it once. `longSide` <= 0: the model's own.
    explicit Colorizer(const std::string& onnxPath, int longSide = 0);

    // An 8-bit BGR (CV_8UC3) or grey (CV_8UC1) image -> 8-bit BGR of the same size: the network's colour,
    // bilinearly upsampled, merged with the image's own full-resolution lightness (Python's guided=False). Not thread-safe (cv::dnn::Net is stateful):
    // give each thread its own Colorizer.
    cv::Mat colorize(const cv::Mat& image);

    const Contract& contract() const { return contract_; }

private:
    Contract contract_;
    cv::dnn::Net net_;
    int longSide_;
};

}  // namespace edgecolor
