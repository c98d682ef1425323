# Decides which communicators are built (distributed/). ENABLE_MPI: AUTO (when MPI is found: Debian's
# libopenmpi-dev), ON (required) or OFF. ENABLE_NCCL: AUTO (with the CUDA backend, when nccl.h and
# libnccl are found in the CUDA toolkit), ON or OFF. Sets RMGAIT_WITH_MPI and RMGAIT_WITH_NCCL.
set(RMGAIT_WITH_MPI OFF)
if(NOT ENABLE_MPI STREQUAL "OFF")
  enable_language(C)  # FindMPI probes the C bindings (the API rmgait uses) with a C compiler
  find_package(MPI COMPONENTS C QUIET)
  if(MPI_C_FOUND)
    set(RMGAIT_WITH_MPI ON)
  elseif(ENABLE_MPI STREQUAL "ON")
    message(FATAL_ERROR "ENABLE_MPI=ON but no MPI was found (Debian: libopenmpi-dev)")
  endif()
endif()
set(RMGAIT_WITH_NCCL OFF)
if(NOT ENABLE_NCCL STREQUAL "OFF")
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} /usr/local/cuda/lib64)
  if(RMGAIT_WITH_CUDA AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(RMGAIT_WITH_NCCL ON)
  elseif(ENABLE_NCCL STREQUAL "ON")
    message(FATAL_ERROR "ENABLE_NCCL=ON but the CUDA backend (${RMGAIT_WITH_CUDA}) or NCCL "
                        "(${NCCL_INCLUDE_DIR}, ${NCCL_LIBRARY}) is missing")
  endif()
endif()
message(STATUS "rmgait: communicators: MPI ${RMGAIT_WITH_MPI}, NCCL ${RMGAIT_WITH_NCCL}")
